"""UCF101-P evaluation: a fine-tuned model on every corruption at every severity (paper Section 4.2, Fig. 3;
PROTOCOLS.md §4.4-4.5).

Where each corruption acts, by mode:
- "benchmark" (paper profile): the 13 UCF101-P sets are read as files from a tree written by
  `synvid.ucf101p_files.make_ucf101p` (`<p_root>/<name>_<s>/`), then viewed as clean videos are; glass_blur, which
  the benchmark does not have, acts on each view as in the authors' hook.
- "hook" (authors profile): the 12 pixel corruptions act on each uint8 224 test view after the resize and the crop
  (YU's test loader), seeded by (seed, corruption/severity, video file name, view index); the two codecs re-encode
  the whole test video (from the tree, or on the fly without one).
Each (corruption, severity) is one run `<out>/<name>/<s>/` (results.json, DONE). A DONE is reused only when its
severity, seed, mode, tree (or clean source), where it acts and protocol are this evaluation's; else it is evaluated
again.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils.data import Dataset

from synvid import corruptions
from synvid.runs import atomic_write_json, is_done, mark_done, read_done
from synvid.ucf101p_files import PROTOCOL, effective_q, read_tree, set_name, video_seed


def check_names(names) -> list[str]:
    unknown = [n for n in names if n not in corruptions.NAMES]
    if unknown:
        raise ValueError(f"unknown corruption(s) {unknown}; choose from {', '.join(corruptions.NAMES)}")
    return list(names)


def load_finetuned(run_dir, device) -> tuple[torch.nn.Module, object, int]:
    """The classifier of a `finetune/4_1_finetune.py` run directory (config.json + last.pth)."""
    from synvid.checkpoint import load_pretrained
    from synvid.config import FinetuneConfig, load_config
    from synvid.models import build
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file() or not (run_dir / "last.pth").is_file():
        raise FileNotFoundError(f"{run_dir} is not a fine-tuning run directory (needs config.json and last.pth)")
    cfg = load_config(FinetuneConfig, run_dir / "config.json")
    num_classes = int(json.loads((run_dir / "config.json").read_text())["num_classes"])
    model = build(cfg.model, num_classes=num_classes, num_frames=cfg.num_frames, img_size=cfg.input_size)
    load_pretrained(model, run_dir / "last.pth")
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
    from synvid.data.splits import ucf101
    from synvid.engine.evaluate import test_dataset
    if how == "file":
        root = Path(p_root) / set_name(name, severity)
        if not is_done(root):
            raise FileNotFoundError(f"{root} is missing or unfinished: run data_gen/4_2_make_ucf101p.py with "
                                    f"--names {name} --severities {severity}")
        return test_dataset(ucf101(root, split=cfg.split, subset="test")[0], cfg, num_segments=num_segments)
    items, _ = ucf101(data_root, split=cfg.split, subset="test")
    if how == "whole_video":
        return test_dataset(items, cfg, num_segments=num_segments, corrupt=WholeVideoCorruption(name, severity),
                            corrupt_per="video")
    views = test_dataset(items, cfg, num_segments=num_segments, corrupt=ViewCorruption(name, severity, seed),
                         corrupt_per="view")
    return KeyedViews(views)


def _sources(rcfg, names, p_root, data_root, split: int):
    """(tree, clean root) of an evaluation, checked before any work."""
    if rcfg.mode == "benchmark" and p_root is None and any(n in corruptions.BENCHMARK for n in names):
        raise ValueError("benchmark mode reads the UCF101-P files: give --p-root (data_gen/4_2_make_ucf101p.py)")
    if p_root is None and data_root is None:
        raise ValueError("give p_root (written UCF101-P), data_root (clean UCF101) or both")
    if p_root is not None:
        data_root = data_root or read_tree(p_root, rcfg, split)["source"]
        if not Path(data_root).is_dir() and any(applied(n, rcfg.mode, p_root) != "file" for n in names):
            raise FileNotFoundError(f"the clean UCF101 root {data_root} named by {p_root}/manifest.json is gone: "
                                    "give --data-root for the corruptions that act on each view")
    return p_root, data_root


def evaluate_ucf101p(model, cfg, rcfg, out, *, names=corruptions.NAMES, p_root=None, data_root=None,
                     num_segments: int = 5, device="cpu", print_fn=print) -> dict:
    """Multi-view top-1 on each corruption at each severity of `rcfg` (a RobustnessConfig), as its mode says.
    Writes <out>/<name>/<s>/results.json (+ DONE) and <out>/summary.json; returns the summary."""
    from synvid.ucf101p_files import check_settings
    check_settings(rcfg)
    names = check_names(names)
    p_root, data_root = _sources(rcfg, names, p_root, data_root, cfg.split)
    summary = {"mode": rcfg.mode, "seed": rcfg.seed, "headline": rcfg.headline, "protocol": PROTOCOL,
               "tree": str(p_root) if p_root is not None else None, "data_root": str(data_root),
               "severities": {}, "applied": {}, "effective_q": {}, "top1": {}, "top5": {}}
    for name in names:
        how = applied(name, rcfg.mode, p_root)
        top1, top5 = {}, {}
        for severity in rcfg.severities:
            done = _evaluate_one(model, cfg, rcfg, Path(out) / name / str(severity), name, severity, how,
                                 p_root=p_root, data_root=data_root, num_segments=num_segments, device=device,
                                 print_fn=print_fn)
            top1[str(severity)], top5[str(severity)] = done["top1"], done["top5"]
        top1["mean"], top5["mean"] = (sum(v.values()) / len(v) for v in (top1, top5))
        summary["severities"][name], summary["applied"][name] = top1, how
        summary["top1"][name], summary["top5"][name] = top1[rcfg.headline], top5[rcfg.headline]
        if name in corruptions.WHOLE_VIDEO:          # FFmpeg's clamp kept: a 1-5 mean weights q = 31 several times
            summary["effective_q"][name] = {str(s): effective_q(name, s) for s in rcfg.severities}
        print_fn(f"{name}: top-1 {rcfg.headline} {top1[rcfg.headline]:.2f} ({how})")
    atomic_write_json(Path(out) / "summary.json", summary)
    return summary


def _evaluate_one(model, cfg, rcfg, run: Path, name: str, severity: int, how: str, *, p_root, data_root,
                  num_segments: int, device, print_fn) -> dict:
    """One (corruption, severity): the DONE of `run` when it records this very evaluation, else evaluated again."""
    from synvid.engine.evaluate import evaluate
    tree = str(Path(p_root) / set_name(name, severity)) if how == "file" else None
    source = None if how == "file" else str(Path(data_root).resolve())     # the clean videos corrupted on the fly
    want = {"corruption": name, "severity": severity, "seed": rcfg.seed, "mode": rcfg.mode, "tree": tree,
            "source": source, "applied": how, "protocol": PROTOCOL}
    if is_done(run) and all(read_done(run).get(k) == v for k, v in want.items()):
        return read_done(run)
    data = corrupted_test_set(name, cfg, severity=severity, seed=rcfg.seed, num_segments=num_segments, how=how,
                              p_root=p_root, data_root=data_root)
    results = evaluate(model, data, batch_size=max(cfg.batch_size // 16, 1), device=device,
                       num_workers=cfg.num_workers, bf16=cfg.bf16, print_fn=print_fn)
    atomic_write_json(run / "results.json", {**want, **results})
    record = {**want, **{k: v for k, v in results.items() if k != "videos"}}   # per-video scores: results.json
    mark_done(run, record)
    return record


class ViewCorruption:
    """Picklable `TestViews(corrupt_per="view")` hook: corrupts each uint8 view with the seed of (seed, corruption,
    video, view index). `start(video)` names the video; the views of one item then come in (segment, crop) order,
    which numbers them. `KeyedViews` calls `start`; each DataLoader worker holds its own copy."""

    def __init__(self, name: str, severity: int, seed: int):
        if name not in corruptions.PER_VIEW:
            raise ValueError(f"{name!r} is not a per-view corruption; those are {', '.join(corruptions.PER_VIEW)}")
        self.name, self.severity, self.seed = name, severity, seed
        self.video, self.view = None, 0

    def start(self, video: str) -> None:
        self.video, self.view = video, 0

    def __call__(self, view: torch.Tensor) -> torch.Tensor:
        if self.video is None:
            raise RuntimeError("ViewCorruption needs start(video) before the views of each video (use KeyedViews)")
        key = video_seed(self.seed, set_name(self.name, self.severity), f"{self.video}/{self.view}")
        self.view += 1
        return corruptions.apply(self.name, view, self.severity, key)


class KeyedViews(Dataset):
    """A `TestViews` whose `ViewCorruption` hook is told which video each item is (its file name, the same in the
    clean root and any copy), so the views' draws depend on (seed, video, view) only."""

    def __init__(self, views):
        if not isinstance(views.corrupt, ViewCorruption) or views.corrupt_per != "view":
            raise ValueError("KeyedViews needs a TestViews with a ViewCorruption hook and corrupt_per='view'")
        self.views = views

    @property
    def items(self):
        return self.views.items

    def __len__(self) -> int:
        return len(self.views)

    def __getitem__(self, index: int):
        self.views.corrupt.start(Path(self.views.items[index][0]).name)
        return self.views[index]


class WholeVideoCorruption:
    """Picklable `TestViews(corrupt_per="video")` hook for the codecs: deterministic, no seed (Q13)."""

    def __init__(self, name: str, severity: int):
        if name not in corruptions.WHOLE_VIDEO:
            raise ValueError(f"{name!r} is not a whole-video corruption; those are "
                             f"{', '.join(corruptions.WHOLE_VIDEO)}")
        self.name, self.severity = name, severity

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        return corruptions.apply(self.name, video, self.severity)


def wins(a: dict[str, float], b: dict[str, float]) -> dict[str, int]:
    """Corruptions on which model A's top-1 is strictly higher than model B's, over all the corruptions both have
    (the paper: 11 of 14) and over the 13 UCF101-P sets alone (glass_blur is only in the authors' hook table)."""
    common = [n for n in corruptions.NAMES if n in a and n in b]
    if not common:
        raise ValueError("the two summaries share no corruption")
    bench = [n for n in common if n in corruptions.BENCHMARK]
    return {"all": sum(a[n] > b[n] for n in common), "all_of": len(common),
            "benchmark": sum(a[n] > b[n] for n in bench), "benchmark_of": len(bench)}


def bar_chart(models: dict[str, dict[str, float]], path, *, title: str = "UCF101-P top-1 (%)") -> Path:
    """Figure 3: grouped bars, one group per corruption (NAMES order), one bar per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from synvid.runs import atomic_write
    names = [n for n in corruptions.NAMES if any(n in m for m in models.values())]
    x, width = np.arange(len(names)), 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names)), 3.5))
    for k, (label, acc) in enumerate(models.items()):
        ax.bar(x + k * width - 0.4 + width / 2, [acc.get(n, np.nan) for n in names], width, label=label)
    ax.set_xticks(x, [n.replace("_", "\n") for n in names], fontsize=7)
    ax.set_ylabel("top-1 (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=150))
    plt.close(fig)
    return path
