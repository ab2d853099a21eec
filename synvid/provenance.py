"""Provenance: which finished runs may fill which paper-table cell.

A finished downstream run becomes a *record* (`record_from_run`); `select` then keeps a record for a cell only when
its profile, model size, probe mode and downstream dataset are the table's, files runs with CLI overrides apart
(shown, marked, never averaged in) and lists every other run with the reason it was refused.

Result record (docs/tables.md; RECORDS.md for the fields the engines add):

    {"task": "finetune" | "linprobe" | "ucf101p" | "stats",
     "dataset": "ucf101" | "hmdb51" | "k400",            # downstream set ("toy_" prefix = toy data)
     "pretrain_dataset": KEY | "scratch" | "ucf101" | "k400", "objective": "videomae" | "vjepa",
     "model": "vit_base_patch16_224", "profile": "paper" | "smoke" | ...,
     "top1": float, "top5": float,                      # percent (finetune / linprobe)
     "seed": int, "overrides": {setting: value},        # {} = the profile's settings
     "probe_mode": "finetune_aug" | "cached",           # linprobe
     "test_listed": int, "test_evaluated": int,         # test videos in the split file / evaluated
     "upstream": {"kind", "run", "checkpoint", "objective", "step", "hash", "finished"},  # synvid.inits.Init.record
     "corruptions": {name: top1},                       # ucf101p only
     "metrics": {"fid": ..., "fvd": ..., "diversity": ..., "spectrum_alpha": ..., "color_kl": ...}}  # stats

A run may state any field explicitly in its `DONE` or `config.json`; the rest is inferred from what the engines
write. Every recorded path is resolved relative to the run directory that recorded it (`find_recorded`), so the
tables work from any working directory and after `runs/` is moved as a whole.
"""
from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from synvid import inits
from synvid.config import FinetuneConfig, LinprobeConfig, resolve
from synvid.errors import BadInput
from synvid.inits import DEFAULT_OBJECTIVE
from synvid.plan import MIX_REAL, mix_key

TASKS = ("finetune", "linprobe", "ucf101p", "stats")
PROBE_MODES = {False: "finetune_aug", True: "cached"}   # `probe_mode` by LinprobeConfig.cache_features
STRICT_PROFILES = ("paper", "authors", "mini")   # toy data never enters their tables
VIT_L_SERIES = "large"                  # Figure 2's ViT-L series (§4.1, §9.3)
VIT_L_FREE = {"model", "batch_size"}    # §9.3: ViT-L "same as ViT-B, except for reducing batch size to half"
# Where each Figure 4 statistic sits in results/<dataset>.json of analysis/5_3_similarity.py, 5_4_frame_properties.py
STAT_KEYS = {"fid": ("fid", "fid"), "fvd": ("fvd", "fvd"), "diversity": ("diversity", "log_det_diversity"),
             "spectrum_alpha": ("spectrum", "alpha_mean"), "color_kl": ("color", "color_kl_sym_sum")}
_SIZE = re.compile(r"vit_([a-z]+)_patch")


@dataclass(frozen=True)
class CellKey:
    """One `ours` cell: the objective picks a column group, the model size a series (ViT-B tables, ViT-L bars)."""
    column: str                          # reported.csv column: f"{downstream dataset}_{task}"
    pretrain: str                        # reported.csv dataset key
    objective: str = DEFAULT_OBJECTIVE
    size: str = "base"


def model_size(model: str | None) -> str | None:
    """'base' for vit_base_patch16_224 / pretrain_videomae_base_patch16_224; None when unknown."""
    match = _SIZE.search(model or "")
    return match.group(1) if match else None


def load_json(path: Path) -> dict:
    """The JSON object in `path`; {} when the file does not exist."""
    return json.loads(path.read_text()) if path.exists() else {}


# --- Paths and upstream pre-training ---------------------------------------------------------------------------------

def find_recorded(run_dir: Path, recorded: str | Path) -> Path | None:
    """The folder a run recorded (absolute, relative to itself, or relative to the working directory it was
    launched from), found relative to the run dir: the longest tail of the recorded path that exists under the
    run dir or one of its ancestors, so moving `runs/` as a whole keeps every link. None when nothing matches."""
    recorded = Path(recorded)
    if recorded.is_absolute() and recorded.exists():
        return recorded
    direct = run_dir / recorded
    if direct.exists():
        return direct.resolve()
    parts = [p for p in recorded.parts if p not in ("/", "..", ".")]
    for base in (run_dir, *run_dir.parents):
        for start in range(len(parts) - 1):          # a tail of one name ("last.pth") would match anything
            candidate = base.joinpath(*parts[start:])
            if candidate.exists():
                return candidate
    return None


def _pretrain_key(config: dict, folder: Path) -> str | None:
    """The reported.csv key of a pre-training run: its dataset, the dataset of its materialised list, and for a
    Table 11 mix the key the plan gave its folder (synvid.plan.mix_key)."""
    name = config.get("dataset")
    if not name and config.get("list"):                             # a materialised set (3_1_generate.py)
        data = find_recorded(folder, Path(config["list"]).parent)
        name = load_json(data / "config.json").get("dataset") if data else None
    mix = config["PretrainConfig"].get("mix_fraction", 0)
    if name and mix:
        return mix_key(name, mix, config.get("mix_name", MIX_REAL))
    return name


def recorded_init(run_dir: Path, merged: dict) -> inits.Init | None:
    """What a downstream run was initialised from, resolved by synvid.inits (without opening weights) from the
    `upstream` it recorded, else from its `init`; a pruned checkpoint is found through its run folder. None when
    nothing recorded can be found."""
    upstream = merged.get("upstream") or {}
    init = merged.get("init") or merged.get("checkpoint")
    if upstream.get("kind") == "scratch" or init == "scratch":
        return inits.resolve("scratch")
    recorded = [upstream[key] for key in ("run", "checkpoint") if upstream.get(key)]
    recorded += [init, Path(init).parent] if init else []
    for path in recorded:
        found = find_recorded(run_dir, path)
        if found is not None and (found.is_file() or inits.is_run(found) or inits.is_hf_folder(found)):
            return inits.resolve(found, allow_unfinished=True, inspect=False)
    return None


def _upstream(run_dir: Path, merged: dict) -> tuple[str | None, str, Path | None]:
    """(pre-training key, objective, upstream run folder) of a downstream run: 'scratch' for --init scratch; the
    key of a synvid pre-training run (or the `pretrain_dataset` its folder states); None when no run made it."""
    source = recorded_init(run_dir, merged)
    if source is None or source.kind == "scratch":
        return ("scratch" if source else None), DEFAULT_OBJECTIVE, None
    config = load_json(source.run / "config.json") if source.run else {}
    key = config.get("pretrain_dataset") or (_pretrain_key(config, source.run) if "PretrainConfig" in config
                                             else None)
    return key, source.objective, source.run


# --- Records ---------------------------------------------------------------------------------------------------------

def infer_task(config: dict) -> str | None:
    if "task" in config:
        return config["task"]
    if "StatsConfig" in config and "stats" in config:   # analysis/5_3, 5_4 (5_5 has no `stats` list)
        return "stats"
    if "LinprobeConfig" in config:       # checked first: a probe config also holds its FinetuneConfig
        return "linprobe"
    if "RobustnessConfig" in config:     # an evaluation of a fine-tuned run; not the corrupted-data maker
        return "ucf101p" if config.get("run") else None
    if "FinetuneConfig" in config:
        return "finetune"
    return None


def _test_counts(merged: dict) -> tuple[int | None, int | None]:
    """(test videos listed, evaluated): the RECORDS.md fields, else the evaluator's num_videos + skipped_videos."""
    if "test_listed" in merged:
        return int(merged["test_listed"]), int(merged.get("test_evaluated", merged["test_listed"]))
    if "num_videos" in merged and "skipped_videos" in merged:
        return int(merged["num_videos"]) + int(merged["skipped_videos"]), int(merged["num_videos"])
    return None, None


def _probe_mode(merged: dict, config: dict) -> str | None:
    if merged.get("probe_mode"):
        return merged["probe_mode"]
    cache = config.get("LinprobeConfig", {}).get("cache_features")
    return None if cache is None else probe_mode(cache)


def record_from_run(run_dir: str | Path) -> dict | None:
    """The result record of a finished run; None for runs that are not downstream results (pre-training,
    data generation). Raises ValueError when a result cannot be attributed to a pre-training dataset."""
    run_dir = Path(run_dir)
    config, done = load_json(run_dir / "config.json"), load_json(run_dir / "DONE")
    merged = {**config, **done}
    task = infer_task(merged)
    if task is None:
        return None
    if task not in TASKS:
        raise BadInput(f"{run_dir}: unknown task {task!r}; choose from {', '.join(TASKS)}")
    key, objective, upstream = _upstream(run_dir, merged)
    pretrain = merged.get("pretrain_dataset") or key
    if pretrain is None:
        raise BadInput(f"{run_dir}: cannot tell the pre-training dataset; write \"pretrain_dataset\" "
                       f"into its config.json (e.g. for official checkpoints)")
    cfg = config.get("FinetuneConfig", {}) if task in ("finetune", "linprobe") else {}   # a probe's: as it trained
    dataset = str(merged.get("dataset", ""))
    listed, evaluated = _test_counts(merged)
    rec = {"task": task, "pretrain_dataset": pretrain, "run": str(run_dir),
           "dataset": dataset.removeprefix("toy_"), "toy": dataset.startswith("toy_"),
           "model": merged.get("model") or cfg.get("model"), "profile": merged.get("profile", "paper"),
           "objective": merged.get("objective") or objective, "seed": merged.get("seed", cfg.get("seed")),
           "overrides": merged.get("overrides") or {}, "probe_mode": _probe_mode(merged, config),
           "test_listed": listed, "test_evaluated": evaluated, "upstream": str(upstream) if upstream else None,
           "evaluates": merged.get("run") if task == "ucf101p" else None}   # the fine-tuned run UCF101-P tested
    rec.update({name: merged[name] for name in ("top1", "top5", "corruptions", "metrics") if name in merged})
    if task in ("finetune", "linprobe") and "top1" not in rec:
        raise BadInput(f"{run_dir}: a finished {task} run has no top1 in DONE")
    return rec


def stats_records(run_dir: str | Path) -> list[dict]:
    """One "stats" record per dataset of a finished analysis run (its DONE maps dataset -> results)."""
    config, done = load_json(Path(run_dir) / "config.json"), load_json(Path(run_dir) / "DONE")
    records = []
    for name, results in done.items():
        metrics = {k: float(results[sec][key]) for k, (sec, key) in STAT_KEYS.items()
                   if key in results.get(sec, {})}
        records.append({"task": "stats", "pretrain_dataset": Path(name).stem, "dataset": Path(name).stem,
                        "run": str(run_dir), "toy": False, "model": None, "results": results,
                        "profile": config.get("profile", "paper"), "metrics": metrics})
    return records


def collect_records(runs: str | Path) -> tuple[list[dict], list[str]]:
    """Records of all finished runs under `runs` (sorted by path) and one message per unusable run."""
    records, problems = [], []
    for done in sorted(Path(runs).rglob("DONE")):
        if infer_task(load_json(done.parent / "config.json")) == "stats":
            records.extend(stats_records(done.parent))
            continue
        try:
            rec = record_from_run(done.parent)
        except (ValueError, json.JSONDecodeError) as e:
            problems.append(str(e))
            continue
        if rec is not None:
            records.append(rec)
    return records, problems


# --- Selection: which record fills which cell ------------------------------------------------------------------------

def probe_mode(cache_features: bool) -> str:
    """The `probe_mode` (docs/tables.md) of LinprobeConfig.cache_features: "finetune_aug" (§4.3: fine-tuning
    augmentations, frozen encoder in train mode) or "cached" (fast mode: head on cached features of unaugmented
    views); the one name of each mode, recorded by the probe and read by the tables, which never mix the two."""
    return PROBE_MODES[bool(cache_features)]


@dataclass(frozen=True)
class Expected:
    """What a table of one profile requires of a run (the profile's own settings)."""
    profile: str
    size: str                            # the profile's fine-tune / probe model size
    probe_mode: str                      # the profile's linear-probe mode

    @classmethod
    def of(cls, profile: str) -> "Expected":
        return cls(profile, model_size(resolve(FinetuneConfig, profile).model),
                   probe_mode(resolve(LinprobeConfig, profile).cache_features))


@dataclass
class Selection:
    cells: dict = field(default_factory=lambda: defaultdict(list))    # CellKey -> accepted records
    marked: dict = field(default_factory=lambda: defaultdict(list))   # CellKey -> records with overrides
    refused: list = field(default_factory=list)                       # (CellKey | None, "run: reason")
    ucf101p: list = field(default_factory=list)
    stats: list = field(default_factory=list)

    def values(self, key: CellKey) -> list[float]:
        return [float(r["top1"]) for r in self.cells.get(key, [])]

    def refused_cells(self) -> set:
        return {key for key, _ in self.refused if key is not None}


def _refusal(rec: dict, expected: Expected, columns: set[str]) -> str | None:
    """Why `rec` may not enter this profile's tables; None when it may."""
    if rec["profile"] != expected.profile:
        return f"profile {rec['profile']!r}; these tables are for {expected.profile!r}"
    if rec["toy"] and expected.profile in STRICT_PROFILES:
        return f"toy data (toy_{rec['dataset']}) never enters {expected.profile} tables"
    size = model_size(rec["model"])
    if size is None:
        return f"model {rec['model']!r} is not a ViT size; write \"model\" into its DONE"
    ft_series = rec["task"] == "finetune" and size == VIT_L_SERIES
    if size != expected.size and not ft_series:
        return f"model {rec['model']} (ViT-{size}); the {expected.profile} tables are ViT-{expected.size}"
    if rec["task"] == "linprobe" and rec["probe_mode"] not in (None, expected.probe_mode):
        return f"probe_mode {rec['probe_mode']!r}; the {expected.profile} profile's probe is {expected.probe_mode!r}"
    column = f"{rec['dataset']}_{rec['task']}"
    if rec["task"] != "ucf101p" and column not in columns:
        return f"no table has the column {column}"
    return None


def _overrides(rec: dict) -> dict:
    """Overrides that make a run differ from its series (the ViT-L series may change model and batch size)."""
    free = VIT_L_FREE if model_size(rec["model"]) == VIT_L_SERIES else set()
    return {k: v for k, v in rec["overrides"].items() if k not in free}


def cell_key(rec: dict) -> CellKey:
    return CellKey(f"{rec['dataset']}_{rec['task']}", rec["pretrain_dataset"], rec["objective"],
                   model_size(rec["model"]))


def select(records: list[dict], expected: Expected, columns: set[str]) -> Selection:
    """Sort every record into accepted cells, runs with overrides, refused runs (with reasons), UCF101-P and stats.
    A second run with the same seed of the same pre-training run is refused: it would read as another seed."""
    out, seen = Selection(), {}
    for rec in records:
        if rec["task"] == "stats":
            if rec["profile"] == expected.profile:
                out.stats.append(rec)
            continue
        key = cell_key(rec) if rec["task"] != "ucf101p" else None
        reason = _refusal(rec, expected, columns)
        identity = (rec["task"], rec["dataset"], key, rec["pretrain_dataset"], rec["upstream"], rec["evaluates"],
                    rec["seed"])
        if reason is None and rec["seed"] is not None and identity in seen:
            reason = f"repeats {seen[identity]} (same seed {rec['seed']} and pre-training); the first is kept"
        if reason is not None:
            out.refused.append((key, f"{rec['run']}: {reason}"))
        elif rec["task"] == "ucf101p":
            seen[identity] = rec["run"]
            out.ucf101p.append(rec)
        else:
            seen[identity] = rec["run"]
            (out.marked if _overrides(rec) else out.cells)[key].append(rec)
    return out


def summarize(values: list[float], confidence: float = 0.95) -> tuple[float | None, float | None, int]:
    """(mean, half-width of the two-sided t-interval, n); the half-width is None below two values."""
    n = len(values)
    if n == 0:
        return None, None, 0
    mean = sum(values) / n
    if n < 2:
        return mean, None, n
    from scipy.stats import t
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n), n
