"""Paper tables and figures as a pure function of finished runs (STYLE.md rule 13).

Inputs: `paper_tables/reported.csv` (the paper's numbers, transcribed once) and every finished run under a
runs folder (a `DONE` file). Outputs: markdown tables (paper | ours | diff, "—" where missing) and figures.

Result record (one per finished downstream run; README (Paper tables) is the contract for other stages):

    {"task": "finetune" | "linprobe" | "ucf101p" | "stats",
     "dataset": "ucf101" | "hmdb51" | "k400",            # downstream set ("toy_" prefix = toy data)
     "pretrain_dataset": KEY | "scratch" | "ucf101" | "k400",
     "objective": "videomae" | "vjepa",                  # of the upstream pre-training (issue 16; default videomae)
     "model": "vit_base_patch16_224", "profile": "paper" | "smoke" | ...,
     "top1": float, "top5": float,                      # percent (finetune / linprobe)
     "corruptions": {name: top1},                       # ucf101p only
     "metrics": {"fid": ..., "fvd": ..., "diversity": ..., "spectrum_alpha": ..., "color_kl": ...}}  # stats

A run may state any field explicitly in its `DONE` or `config.json`; the rest is inferred from what the
fine-tuning / probing engines already write (see `record_from_run`).
"""
from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

MISSING = "—"
TASKS = ("finetune", "linprobe", "ucf101p", "stats")
REPORTED_CSV = Path(__file__).resolve().parent.parent / "paper_tables" / "reported.csv"
# Captions for results that must never be read as paper numbers (COMMON.md: smoke numbers are toy).
NOT_PAPER = {"smoke": "toy/smoke — not paper results", "mini": "reduced scale (mini profile) — not paper results"}


@dataclass(frozen=True)
class TableSpec:
    title: str
    columns: tuple[str, ...]          # reported.csv `column` keys, e.g. "ucf101_finetune"


# Accuracy tables of the paper (numbering of the arXiv full text, 003_*.txt).
TABLES = {
    "table1": TableSpec("Table 1: progression, ViT-B (HMDB51 fine-tune, UCF101 linear probe / fine-tune)",
                        ("hmdb51_finetune", "ucf101_linprobe", "ucf101_finetune")),
    "table2": TableSpec("Table 2: incorporating natural images (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table3": TableSpec("Table 3: incorporating synthetic textures (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table4": TableSpec("Table 4: Kinetics-400", ("k400_finetune",)),
    "table9": TableSpec("Table 9: slower objects (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table10": TableSpec("Table 10: more textures and backgrounds (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table11": TableSpec("Table 11: mixed with real videos (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table12": TableSpec("Table 12: saturated textures (UCF101 fine-tune)", ("ucf101_finetune",)),
}
# "closes X% of the gap" claims: (reported.csv row of table `text`, column, ours, scratch, reference)
GAPS = (
    ("UCF101 fine-tune gap closed by StyleGAN crops", "ucf101_finetune", "accelerating_transforming_stylegan",
     "scratch", "ucf101"),
    ("K400 gap closed by image crops", "k400_finetune", "accelerating_transforming_image_crops", "scratch", "k400"),
    ("UCF101 linear-probe gap closed by image crops", "ucf101_linprobe", "accelerating_transforming_image_crops",
     "scratch", "ucf101"),
)
FIG4_METRICS = ("fid", "fvd", "diversity", "color_kl")
# Where each Figure 4 statistic sits in results/<dataset>.json of analysis/5_3_similarity.py, 5_4_frame_properties.py
STAT_KEYS = {"fid": ("fid", "fid"), "fvd": ("fvd", "fvd"), "diversity": ("diversity", "log_det_diversity"),
             "spectrum_alpha": ("spectrum", "alpha_mean"), "color_kl": ("color", "color_kl_sym_sum")}


# ---------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------

def read_reported(path: str | Path = REPORTED_CSV) -> list[dict]:
    """Rows of reported.csv with `value` as float; raises naming the line on a malformed row."""
    rows = []
    with open(path, newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            missing = [k for k in ("table", "row", "column", "dataset", "value") if not row.get(k)]
            if missing:
                raise ValueError(f"{path}:{line}: empty {', '.join(missing)}")
            try:
                row["value"] = float(row["value"])
            except ValueError as e:
                raise ValueError(f"{path}:{line}: value {row['value']!r} is not a number") from e
            rows.append(row)
    return rows


def gap_closed(ours: float, scratch: float, reference: float) -> float:
    """Percent of the scratch -> reference gap closed, rounded to 1 decimal (PROTOCOLS Q2)."""
    if reference == scratch:
        raise ValueError(f"no gap to close: reference == scratch == {scratch}")
    return round(100.0 * (ours - scratch) / (reference - scratch), 1)


def _load_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _infer_task(config: dict) -> str | None:
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


def _infer_pretrain(config: dict) -> str | None:
    """'scratch', or the `dataset` of the pre-training run that wrote the --init checkpoint."""
    init = config.get("init") or config.get("checkpoint")
    if init is None:
        return None
    if init == "scratch":
        return "scratch"
    for folder in (Path(init).parent, Path(init).parent.parent):   # pretrain/X/ckpt or finetune/../X/ckpt
        upstream = _load_json(folder / "config.json")
        if upstream.get("pretrain_dataset"):
            return upstream["pretrain_dataset"]
        if "PretrainConfig" in upstream:
            return _pretrain_key(upstream)
    return None


OBJECTIVES = {"videomae": "VideoMAE", "vjepa": "V-JEPA"}   # column-group labels; videomae = the paper's


def _infer_objective(config: dict) -> str:
    """The pre-training objective behind a downstream run: stated in it, else that of its --init checkpoint."""
    from synvid.runs import upstream_objective
    return config.get("objective") or upstream_objective(config.get("init") or config.get("checkpoint")) \
        or "videomae"


def _pretrain_key(config: dict) -> str | None:
    """The reported.csv key of a pre-training run: its dataset, the dataset of its materialised list, and for a
    Table 11 mix `<dataset>_<mix_name>_<pct>pct`."""
    name = config.get("dataset")
    if not name and config.get("list"):                             # a materialised set (3_1_generate.py)
        name = _load_json(Path(config["list"]).parent / "config.json").get("dataset")
    mix = config["PretrainConfig"].get("mix_fraction", 0)
    if name and mix:
        return f"{name}_{config.get('mix_name', 'ucf101')}_{round(100 * mix)}pct"
    return name


def record_from_run(run_dir: str | Path) -> dict | None:
    """The result record of a finished run; None for runs that are not downstream results (pre-training,
    data generation). Raises ValueError when a result cannot be attributed to a pre-training dataset."""
    run_dir = Path(run_dir)
    config, done = _load_json(run_dir / "config.json"), _load_json(run_dir / "DONE")
    merged = {**config, **done}
    task = _infer_task(merged)
    if task is None:
        return None
    if task not in TASKS:
        raise ValueError(f"{run_dir}: unknown task {task!r}; choose from {', '.join(TASKS)}")
    pretrain = merged.get("pretrain_dataset") or _infer_pretrain(merged)
    if pretrain is None:
        raise ValueError(f"{run_dir}: cannot tell the pre-training dataset; write \"pretrain_dataset\" "
                         f"into its config.json (e.g. for official checkpoints)")
    cfg_cls = {"linprobe": "LinprobeConfig", "finetune": "FinetuneConfig"}.get(task, "")
    dataset = str(merged.get("dataset", ""))
    rec = {"task": task, "pretrain_dataset": pretrain, "run": str(run_dir), "objective": _infer_objective(merged),
           "dataset": dataset.removeprefix("toy_"), "toy": dataset.startswith("toy_"),
           "model": merged.get("model") or config.get(cfg_cls, {}).get("model"),
           "profile": merged.get("profile", "paper")}
    for key in ("top1", "top5", "corruptions", "metrics"):
        if key in merged:
            rec[key] = merged[key]
    if task in ("finetune", "linprobe") and "top1" not in rec:
        raise ValueError(f"{run_dir}: a finished {task} run has no top1 in DONE")
    return rec


def stats_records(run_dir: str | Path) -> list[dict]:
    """One "stats" record per dataset of a finished analysis run (its DONE maps dataset -> results)."""
    config, done = _load_json(Path(run_dir) / "config.json"), _load_json(Path(run_dir) / "DONE")
    records = []
    for name, results in done.items():
        metrics = {k: float(results[sec][key]) for k, (sec, key) in STAT_KEYS.items()
                   if key in results.get(sec, {})}
        records.append({"task": "stats", "pretrain_dataset": Path(name).stem, "dataset": Path(name).stem,
                        "run": str(run_dir), "toy": False, "model": None,
                        "profile": config.get("profile", "paper"), "metrics": metrics})
    return records


def collect_records(runs: str | Path) -> tuple[list[dict], list[str]]:
    """Records of all finished runs under `runs` (sorted by path) and one message per unusable run."""
    records, problems = [], []
    for done in sorted(Path(runs).rglob("DONE")):
        if _infer_task(_load_json(done.parent / "config.json")) == "stats":
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


def our_values(records: list[dict], profile: str | None = None,
               objective: str = "videomae") -> dict[tuple[str, str], list[float]]:
    """{(column key, pretrain_dataset): [top1, ...]}: column key = f"{dataset}_{task}" as in reported.csv.
    Only runs fed by `objective` (scratch runs count for every objective: they have no pre-training)."""
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for rec in records:
        if profile is not None and rec["profile"] != profile:
            continue
        if rec.get("objective", "videomae") != objective and rec["pretrain_dataset"] != "scratch":
            continue
        if rec["task"] in ("finetune", "linprobe"):
            out[(f"{rec['dataset']}_{rec['task']}", rec["pretrain_dataset"])].append(float(rec["top1"]))
    return dict(out)


# ---------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------

def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _mean(values: list[float] | None) -> float | None:
    return sum(values) / len(values) if values else None


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


def _ours_cell(values: list[float] | None) -> str:
    """Mean over repeated runs (seeds); the count is shown when there is more than one."""
    text = _fmt(_mean(values))
    return f"{text} (n={len(values)})" if values and len(values) > 1 else text


def caption(title: str, profile: str | None, toy: bool = False) -> str:
    note = NOT_PAPER.get(profile or "")
    if toy and note is None:
        note = "toy data — not paper results"
    return f"**{title}**" + (f" ({note})" if note else "")


def table_markdown(name: str, reported: list[dict], ours: dict, profile: str | None = None,
                   toy: bool = False, others: dict[str, dict] | None = None) -> str:
    """One paper table: a row per reported row, per column `paper | ours | diff` (ours = VideoMAE, the paper's
    objective), then `ours <objective>` for each other objective with results (`others`: objective -> values)."""
    others = others or {}
    spec = TABLES[name]
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for r in reported:
        if r["table"] == name:
            rows.setdefault((r["row"], r["dataset"]), {})[r["column"]] = r["value"]
    headers = ["Pre-training", "key"]
    for col in spec.columns:
        headers += [f"{col} paper", f"{col} ours", f"{col} diff"]
        headers += [f"{col} ours {OBJECTIVES.get(obj, obj)}" for obj in others]
    body = []
    for (row, key), values in rows.items():
        line = [row, f"`{key}`"]
        for col in spec.columns:
            paper, mine = values.get(col), _mean(ours.get((col, key)))
            diff = mine - paper if paper is not None and mine is not None else None
            line += [_fmt(paper), _ours_cell(ours.get((col, key))), _fmt(diff, signed=True)]
            line += [_ours_cell(values_of.get((col, key))) for values_of in others.values()]
        body.append(line)
    table = tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)
    return f"{caption(spec.title, profile, toy)}\n\n{table}\n"


def gaps_markdown(reported: list[dict], ours: dict, profile: str | None = None, toy: bool = False) -> str:
    """The "closes X% of the gap" claims: the paper's figure, recomputed from its tables, and ours."""
    claimed = {r["row"]: r["value"] for r in reported if r["table"] == "text" and r["column"] == "gap_closed"}
    paper_acc = {(r["column"], r["dataset"]): r["value"] for r in reported if r["table"] in ("table1", "table4")}
    body = []
    for row, col, key, low, high in GAPS:
        recomputed = gap_closed(paper_acc[(col, key)], paper_acc[(col, low)], paper_acc[(col, high)])
        mine = [_mean(ours.get((col, k))) for k in (key, low, high)]
        value = gap_closed(*mine) if None not in mine and mine[1] != mine[2] else None
        body.append([row, _fmt(claimed.get(row)), _fmt(recomputed), _fmt(value)])
    table = tabulate(body, headers=["Claim", "paper text", "from paper tables", "ours"], tablefmt="github",
                     disable_numparse=True)
    return f"{caption('Gap closed, % = (ours - scratch) / (reference - scratch)', profile, toy)}\n\n{table}\n"


def ucf101p_markdown(records: list[dict], reported: list[dict], profile: str | None = None) -> str:
    """Figure 3: per-corruption top-1 of each pre-training, and the win count against UCF101 pre-training.
    The paper gives only the counts (11/14 and 6/14) in text, not the per-corruption values."""
    per: dict[str, dict[str, float]] = {}
    other: dict[str, dict[str, float]] = {}   # other objectives' runs, headed `key` (V-JEPA); not in the win counts
    for rec in records:
        if rec["task"] == "ucf101p" and (profile is None or rec["profile"] == profile):
            objective = rec.get("objective", "videomae")
            label = f"`{rec['pretrain_dataset']}`"
            if objective != "videomae":
                label += f" ({OBJECTIVES.get(objective, objective)})"
            (per if objective == "videomae" else other)[label] = \
                {k: float(v) for k, v in rec.get("corruptions", {}).items()}
    both = {**per, **other}
    names = sorted({c for v in both.values() for c in v})
    keys = sorted(per) + sorted(other)
    body = [[c] + [_fmt(both[k].get(c)) for k in keys] for c in names]
    table = tabulate(body, headers=["Corruption"] + keys, tablefmt="github",
                     disable_numparse=True) if body else "(no UCF101-P results)"
    wins = []
    for r in (r for r in reported if r["table"] == "fig3"):
        mine = None
        ours_, ref = per.get(f"`{r['dataset']}`"), per.get("`ucf101`")
        if ours_ is not None and ref is not None:
            from synvid.corruptions import BENCHMARK, NAMES
            common = set(ours_) & set(ref)
            mine = f"{sum(ours_[c] > ref[c] for c in common)}/{len(common)}"
            bench = common - (set(NAMES) - set(BENCHMARK))     # glass_blur is not a UCF101-P set (PROTOCOLS §4.5)
            if bench != common:
                mine += f" ({sum(ours_[c] > ref[c] for c in bench)}/{len(bench)} UCF101-P sets)"
        wins.append([r["row"], f"{int(r['value'])}/14", mine or MISSING])
    wins_table = tabulate(wins, headers=["Claim", "paper", "ours"], tablefmt="github", disable_numparse=True)
    title = "Figure 3: UCF101-P top-1 per corruption (fine-tuned on UCF101)"
    return f"{caption(title, profile)}\n\n{table}\n\n{wins_table}\n"


def pearson(x: list[float], y: list[float], min_points: int = 3) -> float | None:
    """Pearson r, or None with fewer than `min_points` points (the Fig. 4 table: 3, as two points always give
    ±1) or a constant series."""
    if len(x) < max(min_points, 2):
        return None
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else None


def fig4_markdown(records: list[dict], reported: list[dict], ours: dict, profile: str | None = None) -> str:
    """Figure 4: Pearson r between each dataset property and our UCF101 fine-tune top-1, over datasets."""
    metrics = {r["pretrain_dataset"]: r.get("metrics", {}) for r in records
               if r["task"] == "stats" and (profile is None or r["profile"] == profile)}
    paper = {r["dataset"]: r["value"] for r in reported if r["table"] == "fig4" and r["column"] == "pearson_r"}
    body = []
    for m in FIG4_METRICS:
        # a singular diversity covariance (-inf, metrics.covariance_log_det) or an undefined value has no place
        # in a correlation: left out, and the datasets column counts only the points used
        pts = [(float(v[m]), _mean(ours[("ucf101_finetune", k)])) for k, v in sorted(metrics.items())
               if m in v and v[m] is not None and math.isfinite(float(v[m])) and ("ucf101_finetune", k) in ours]
        r = pearson([p[0] for p in pts], [p[1] for p in pts])
        body.append([m, MISSING if m not in paper else f"{paper[m]:.2f}",
                     MISSING if r is None else f"{r:.2f}", str(len(pts))])
    table = tabulate(body, headers=["Property", "paper r", "ours r", "datasets"], tablefmt="github",
                     disable_numparse=True)
    return f"{caption('Figure 4: dataset properties vs UCF101 fine-tune accuracy (Pearson r)', profile)}\n\n{table}\n"


# ---------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------

def fig2_progression(reported: list[dict], ours: dict, path: str | Path, profile: str | None = None,
                     others: dict[str, dict] | None = None) -> Path:
    """Figure 2 style bars: the Table 1 rows for each of its three columns, paper vs ours (VideoMAE), plus a bar
    per other objective with results (`others`: objective -> values)."""
    import matplotlib
    matplotlib.use("Agg")   # no display on the training machines
    import matplotlib.pyplot as plt
    from synvid.runs import atomic_write

    spec = TABLES["table1"]
    rows = list(dict.fromkeys((r["row"], r["dataset"]) for r in reported if r["table"] == "table1"))
    paper = {(r["column"], r["dataset"]): r["value"] for r in reported if r["table"] == "table1"}
    fig, axes = plt.subplots(1, len(spec.columns), figsize=(5 * len(spec.columns), 4.5), sharey=False)
    xs = range(len(rows))
    groups = {"ours": ours, **{f"ours {OBJECTIVES.get(o, o)}": v for o, v in (others or {}).items()}}
    width = 0.8 / (1 + len(groups))
    for ax, col in zip(axes, spec.columns):
        ax.bar([x - 0.4 + width / 2 for x in xs], [paper.get((col, k), 0.0) for _, k in rows], width, label="paper")
        for g, (label, values) in enumerate(groups.items(), start=1):
            ax.bar([x - 0.4 + width * (g + 0.5) for x in xs],
                   [_nan_if_none(_mean(values.get((col, k)))) for _, k in rows], width, label=label)  # missing: no bar
        ax.set_xticks(list(xs), [row for row, _ in rows], rotation=70, ha="right", fontsize=7)
        ax.set_title(col)
        ax.set_ylabel("top-1 (%)")
    axes[0].legend()
    fig.suptitle("Figure 2 / Table 1: progression" + (f" — {NOT_PAPER[profile]}" if profile in NOT_PAPER else ""))
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120))
    plt.close(fig)
    return Path(path)


# ---------------------------------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------------------------------

def write_all(runs: str | Path, out: str | Path, profile: str | None = None,
              reported_csv: str | Path = REPORTED_CSV, figures: bool = True) -> dict:
    """Write `out/tables/*.md` (+ `out/figures/*.png`) from the runs under `runs`; returns a summary."""
    from synvid.runs import atomic_write_text
    reported = read_reported(reported_csv)
    records, problems = collect_records(runs)
    ours = our_values(records, profile)
    found = {r.get("objective", "videomae") for r in records if profile is None or r["profile"] == profile}
    others = {o: our_values(records, profile, o) for o in sorted(found - {"videomae"})}   # issue 16: V-JEPA group
    toy = any(r["toy"] for r in records if profile is None or r["profile"] == profile)
    tables = Path(out) / "tables"
    written = []
    for name in TABLES:
        written.append(atomic_write_text(tables / f"{name}.md",
                                         table_markdown(name, reported, ours, profile, toy, others)))
    written.append(atomic_write_text(tables / "gaps.md", gaps_markdown(reported, ours, profile, toy)))
    written.append(atomic_write_text(tables / "fig3_ucf101p.md", ucf101p_markdown(records, reported, profile)))
    written.append(atomic_write_text(tables / "fig4_properties.md", fig4_markdown(records, reported, ours, profile)))
    if problems:
        written.append(atomic_write_text(tables / "problems.md", "".join(f"- {p}\n" for p in problems)))
    else:
        (tables / "problems.md").unlink(missing_ok=True)   # a stale list from an earlier call would mislead
    if figures:
        written.append(fig2_progression(reported, ours, Path(out) / "figures" / "fig2_progression.png", profile,
                                        others))
    return {"records": len(records), "problems": problems, "written": [str(p) for p in written]}
