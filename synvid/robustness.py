"""UCF101-P evaluation: a fine-tuned model on every corruption at every severity, charted beside other models with
their win counts (paper Section 4.2, Fig. 3; PROTOCOLS.md §4.4-4.5). The tree of corrupted files is written by
`synvid.ucf101p_files`; the chart is `synvid.figures.ucf101p_chart`.

Where each corruption acts, by mode:
- "benchmark" (paper profile): the 13 UCF101-P sets are read as files from a tree written by
  `synvid.ucf101p_files.make_ucf101p` (`<p_root>/<name>_<s>/`), then viewed as clean videos are; glass_blur, which
  the benchmark does not have, acts on each view as in the authors' hook.
- "hook" (authors profile): the 12 pixel corruptions act on each uint8 224 test view after the resize and the crop
  (YU's test loader), seeded by (seed, corruption/severity, video file name, view index); the two codecs re-encode
  the whole test video (from the tree, or on the fly without one).
Each (corruption, severity) is one run directory `<out>/<name>/<s>/` (synvid.runs.RunDir: config.json with its
severity, seed, mode, tree (or clean source), where it acts and protocol; results.json; DONE): a finished one is
reused, one of another evaluation is refused.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from synvid import codecs, corruptions, inits
from synvid.checkpoint import load_pretrained
from synvid.config import FinetuneConfig, load_config, to_dict
from synvid.data.splits import ucf101
from synvid.engine import evaluate as multiview
from synvid.errors import BadInput, MissingInput
from synvid.figures import ucf101p_chart
from synvid.models import build
from synvid.provenance import record_from_run
from synvid.runs import RunDir, atomic_write_json, is_done, read_done
from synvid.ucf101p_files import PROTOCOL, check_names, check_settings, read_tree, set_name, video_seed


def load_finetuned(source: inits.Init, device) -> tuple[torch.nn.Module, object, int]:
    """The classifier of a `finetune/4_1_finetune.py` run, resolved by synvid.inits (which refuses a run without
    DONE unless allowed): its config.json and weights."""
    config = json.loads((source.run / "config.json").read_text()) if source.run else {}
    if source.kind != "synvid" or "FinetuneConfig" not in config or "LinprobeConfig" in config:
        raise MissingInput(f"{source.weights} is not in a fine-tuning run directory (config.json with a "
                           f"FinetuneConfig, and last.pth)")
    cfg = load_config(FinetuneConfig, source.run / "config.json")
    num_classes = int(config["num_classes"])
    model = build(cfg.model, num_classes=num_classes, num_frames=cfg.num_frames, img_size=cfg.input_size)
    load_pretrained(model, source.weights)
    return model.to(device).eval(), cfg, num_classes


def applied(name: str, mode: str, p_root) -> str:
    """Where `name` acts: "file" (read from the tree), "whole_video" (a codec re-encoded on the fly) or "per_view"."""
    if p_root is not None and (name in corruptions.WHOLE_VIDEO or (mode == "benchmark" and name in
                                                                    corruptions.BENCHMARK)):
        return "file"
    return "whole_video" if name in corruptions.WHOLE_VIDEO else "per_view"


def corrupted_test_set(name: str, cfg, *, severity: int, seed: int, num_segments: int, how: str, p_root=None,
                       data_root=None):
    """The multi-view test set of one corruption at one severity, acting as `how` (see `applied`)."""
    if how == "file":
        root = Path(p_root) / set_name(name, severity)
        if not is_done(root):
            raise MissingInput(f"{root} is missing or unfinished: run data_gen/4_2_make_ucf101p.py with "
                               f"--names {name} --severities {severity}")
        return multiview.test_dataset(ucf101(root, split=cfg.split, subset="test")[0], cfg, num_segments=num_segments)
    items, _ = ucf101(data_root, split=cfg.split, subset="test")
    if how == "whole_video":
        hook, per = WholeVideoCorruption(name, severity), "video"
    else:
        hook, per = ViewCorruption(name, severity, seed), "view"
    return multiview.test_dataset(items, cfg, num_segments=num_segments, corrupt=hook, corrupt_per=per)


def _sources(rcfg, names, p_root, data_root, split: int):
    """(tree, clean root) of an evaluation, checked before any work."""
    if rcfg.mode == "benchmark" and p_root is None and any(n in corruptions.BENCHMARK for n in names):
        raise BadInput("benchmark mode reads the UCF101-P files: give --p-root (data_gen/4_2_make_ucf101p.py)")
    if p_root is None and data_root is None:
        raise BadInput("give p_root (written UCF101-P), data_root (clean UCF101) or both")
    if p_root is not None:
        data_root = data_root or read_tree(p_root, rcfg, split)["source"]
        if not Path(data_root).is_dir() and any(applied(n, rcfg.mode, p_root) != "file" for n in names):
            raise MissingInput(f"the clean UCF101 root {data_root} named by {p_root}/manifest.json is gone: "
                               "give --data-root for the corruptions that act on each view")
    return p_root, data_root


def evaluate_ucf101p(model, cfg, rcfg, out, *, names=corruptions.NAMES, p_root=None, data_root=None,
                     device="cpu", print_fn=print) -> dict:
    """Multi-view top-1 on each corruption at each severity of `rcfg` (a RobustnessConfig), as its mode says.
    Writes <out>/<name>/<s>/results.json (+ DONE) and <out>/summary.json; returns the summary."""
    check_settings(rcfg)
    names = check_names(names)
    p_root, data_root = _sources(rcfg, names, p_root, data_root, cfg.split)
    if any(applied(n, rcfg.mode, p_root) == "whole_video" for n in names):
        codecs.ffmpeg_version()                           # no FFmpeg binary: an error before any evaluation
    summary = {"mode": rcfg.mode, "seed": rcfg.seed, "headline": rcfg.headline, "protocol": PROTOCOL,
               "tree": str(p_root) if p_root is not None else None, "data_root": str(data_root),
               "severities": {}, "applied": {}, "codecs": {}, "top1": {}, "top5": {}}
    for name in names:
        how = applied(name, rcfg.mode, p_root)
        top1, top5 = {}, {}
        for severity in rcfg.severities:
            done = _evaluate_one(model, cfg, rcfg, Path(out) / name / str(severity), name, severity, how,
                                 p_root=p_root, data_root=data_root, device=device,
                                 print_fn=print_fn)
            top1[str(severity)], top5[str(severity)] = done["top1"], done["top5"]
            if name in corruptions.WHOLE_VIDEO:       # the ffmpeg command and binary behind each codec severity
                run = {k: done.get(k) for k in ("command", "ffmpeg")}
                summary["codecs"].setdefault(name, {})[str(severity)] = run
        top1["mean"], top5["mean"] = (sum(v.values()) / len(v) for v in (top1, top5))
        summary["severities"][name], summary["applied"][name] = top1, how
        summary["top1"][name], summary["top5"][name] = top1[rcfg.headline], top5[rcfg.headline]
        print_fn(f"{name}: top-1 {rcfg.headline} {top1[rcfg.headline]:.2f} ({how})")
    atomic_write_json(Path(out) / "summary.json", summary)
    return summary


def _evaluate_one(model, cfg, rcfg, run: Path, name: str, severity: int, how: str, *, p_root, data_root,
                  device, print_fn) -> dict:
    """One (corruption, severity), a run directory of its own: its DONE when finished, else evaluated (another
    evaluation's result is refused, never relabelled)."""
    tree = str(Path(p_root) / set_name(name, severity)) if how == "file" else None
    source = None if how == "file" else str(Path(data_root).resolve())     # the clean videos corrupted on the fly
    want = {"corruption": name, "severity": severity, "seed": rcfg.seed, "mode": rcfg.mode, "tree": tree,
            "source": source, "applied": how, "protocol": PROTOCOL, "num_segments": rcfg.num_segments}
    with RunDir(run, want) as cell:
        if cell.done is not None:
            return cell.done
        data = corrupted_test_set(name, cfg, severity=severity, seed=rcfg.seed, num_segments=rcfg.num_segments,
                                  how=how, p_root=p_root, data_root=data_root)
        results = multiview.evaluate(model, data, batch_size=max(cfg.batch_size // 16, 1), device=device,
                                     num_workers=cfg.num_workers, bf16=cfg.bf16, allow_missing=rcfg.allow_missing,
                                     print_fn=print_fn)
        record = {**want, **_codec_record(name, severity, how, tree)}
        atomic_write_json(run / "results.json", {**record, **results})
        record.update({k: v for k, v in results.items() if k != "videos"})   # per-video scores: results.json
        cell.finish(record)
    return record


def _codec_record(name: str, severity: int, how: str, tree) -> dict:
    """A codec result's command and FFmpeg version: those that wrote the tree's set, or those run on the fly."""
    if name not in corruptions.WHOLE_VIDEO:
        return {}
    if how == "file":
        return {k: read_done(tree).get(k) for k in ("command", "ffmpeg")}
    return codecs.record(name, corruptions.REGISTRY[name].params[severity - 1], source="frames")


class ViewCorruption:
    """Picklable `TestViews(corrupt_per="view")` hook: corrupts each uint8 view with the seed of (seed, corruption,
    video file name, view index), the key TestViews passes (the same in any DataLoader worker, rank or copy)."""

    def __init__(self, name: str, severity: int, seed: int):
        if name not in corruptions.PER_VIEW:
            raise BadInput(f"{name!r} is not a per-view corruption; those are {', '.join(corruptions.PER_VIEW)}")
        self.name, self.severity, self.seed = name, severity, seed

    def __call__(self, view: torch.Tensor, key: tuple[str, int]) -> torch.Tensor:
        video, index = key
        seed = video_seed(self.seed, set_name(self.name, self.severity), f"{video}/{index}")
        return corruptions.apply(self.name, view, self.severity, seed)


class WholeVideoCorruption:
    """Picklable `TestViews(corrupt_per="video")` hook for the codecs: deterministic, no seed (Q13)."""

    def __init__(self, name: str, severity: int):
        if name not in corruptions.WHOLE_VIDEO:
            raise BadInput(f"{name!r} is not a whole-video corruption; those are "
                           f"{', '.join(corruptions.WHOLE_VIDEO)}")
        self.name, self.severity = name, severity

    def __call__(self, video: torch.Tensor, key=None) -> torch.Tensor:
        return corruptions.apply(self.name, video, self.severity)


def wins(a: dict[str, float], b: dict[str, float]) -> dict[str, int]:
    """Corruptions on which model A's top-1 is strictly higher than model B's, over all the corruptions both have
    (the paper: 11 of 14) and over the 13 UCF101-P sets alone (glass_blur is only in the authors' hook table)."""
    common = [n for n in corruptions.NAMES if n in a and n in b]
    if not common:
        raise BadInput("the two summaries share no corruption")
    bench = [n for n in common if n in corruptions.BENCHMARK]
    return {"all": sum(a[n] > b[n] for n in common), "all_of": len(common),
            "benchmark": sum(a[n] > b[n] for n in bench), "benchmark_of": len(bench)}


def read_summaries(compare) -> dict[str, dict[str, float]]:
    """`LABEL=summary.json` specs (earlier evaluations) -> {label: headline top-1 per corruption}."""
    models = {}
    for spec in compare:
        label, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            raise BadInput(f"--compare expects LABEL=existing summary.json, got {spec!r}")
        models[label] = json.loads(Path(path).read_text())["top1"]
    return models


def _evaluate_run(run_dir, rcfg, out, names, *, p_root, data_root, device, allow_unfinished):
    """Evaluate the fine-tuning run `run_dir`; -> (summary, the DONE record the tables place the result by)."""
    if not run_dir or not (p_root or data_root):
        raise BadInput("give --run and --p-root and/or --data-root (or --chart-only)")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    source = inits.resolve(run_dir, allow_unfinished=allow_unfinished)
    model, ft_cfg, _ = load_finetuned(source, device)
    summary = evaluate_ucf101p(model, ft_cfg, rcfg, out, names=names, p_root=p_root, data_root=data_root,
                               device=device)
    finetuned = record_from_run(run_dir)
    record = {"task": "ucf101p", "corruptions": summary["top1"], "model": finetuned["model"],
              "pretrain_dataset": finetuned["pretrain_dataset"], "objective": finetuned["objective"],
              "dataset": ("toy_" if finetuned["toy"] else "") + finetuned["dataset"],
              **{k: summary[k] for k in ("mode", "severities", "headline", "seed", "tree", "codecs")},
              "upstream": source.record(out)}
    return summary, record


def run(rcfg, out, *, run_dir=None, chart_only: bool = False, label: str = "model", compare=(), names=None,
        p_root=None, data_root=None, device=None, allow_unfinished: bool = False, profile=None) -> dict:
    """finetune/4_2_eval_ucf101p.py: evaluate the fine-tuning run `run_dir` (unless `chart_only`), chart its
    headline top-1 beside the `compare` summaries (<out>/figure3.png), count the wins of the first model over each
    other one (<out>/wins.json) and write DONE last, with the record the tables read; returns DONE's record."""
    check_settings(rcfg)
    names = check_names(names or corruptions.NAMES)
    models, record, out = read_summaries(compare), {}, Path(out)
    config = to_dict(rcfg, run=run_dir, p_root=p_root, data_root=data_root, names=names, compare=list(compare),
                     profile=profile)
    if chart_only and not models:
        raise BadInput("nothing to chart: --chart-only needs --compare")
    with RunDir(out, config) as run:
        if run.done is not None:
            return run.done
        if not chart_only:
            summary, record = _evaluate_run(run_dir, rcfg, out, names, p_root=p_root, data_root=data_root,
                                            device=device, allow_unfinished=allow_unfinished)
            models = {label: summary["top1"], **models}
        labels = list(models)
        counts = {f"{labels[0]} > {b}": wins(models[labels[0]], models[b]) for b in labels[1:]}
        for pair, n in counts.items():
            print(f"{pair} on {n['all']} of {n['all_of']} corruptions, {n['benchmark']} of {n['benchmark_of']} "
                  "UCF101-P sets")
        atomic_write_json(out / "wins.json", counts)
        shown = [n for n in corruptions.NAMES if any(n in m for m in models.values())]
        ucf101p_chart(models, out / "figure3.png", names=shown,
                      title=f"UCF101-P top-1 (%), severity {rcfg.headline}")
        run.finish({"wins": counts, **record})
    return {"wins": counts, **record}
