"""UCF101-P: the codec tree, the per-view corruption hooks and evaluating a fine-tuned model (paper Section 4.2,
Fig. 3).

Where each corruption acts (PROTOCOLS §4.3, Q13): the 12 pixel corruptions (`corruptions.PER_VIEW`) are applied on
the fly to each uint8 224 test view, after the short-side resize and the crop (as YU's test loader), seeded by
(seed, corruption, video file name, view index); the two codecs (`corruptions.WHOLE_VIDEO`) re-encode the whole test
video, which is then viewed normally. Only the codecs are written offline, as the codec's own files:
    <out>/<codec>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi + <out>/<codec>/ucfTrainTestlist/ (copied)
    <out>/<codec>/DONE, <out>/manifest.json (source = the clean UCF101 root the per-view ones are read from)
so every codec is an ordinary UCF101 root that `synvid.data.splits.ucf101` reads.
"""
from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import torch
from torch.utils.data import Dataset

from synvid import corruptions
from synvid.runs import atomic_write_json, is_done, mark_done, read_done

# Bumped when what a tree or a result means changes: trees and results of another protocol are not reused.
# (v1, unversioned: every corruption once on the full-resolution video, re-encoded with mpeg4.)
PROTOCOL = "v2-per-view"


def video_seed(seed: int, name: str, key: str) -> int:
    """Seed of one video or view: stable across runs and machines (crc32, not Python's salted hash)."""
    return zlib.crc32(f"{seed}/{name}/{key}".encode())


def check_names(names) -> list[str]:
    unknown = [n for n in names if n not in corruptions.NAMES]
    if unknown:
        raise ValueError(f"unknown corruption(s) {unknown}; choose from {', '.join(corruptions.NAMES)}")
    return list(names)


def check_tree_names(names) -> list[str]:
    """The corruptions a tree may hold: only the whole-video codecs."""
    per_view = [n for n in check_names(names) if n not in corruptions.WHOLE_VIDEO]
    if per_view:
        raise ValueError(f"{per_view} act on each test view at evaluation time (PROTOCOLS §4.3) and are not "
                         f"written; the tree holds only {', '.join(corruptions.WHOLE_VIDEO)}")
    return list(names)


def check_protocol(manifest: dict, root, problem: str, remedy: str) -> None:
    """A tree of another protocol (unversioned = v1: every corruption at full resolution) is never reused."""
    if manifest.get("protocol") != PROTOCOL:
        raise ValueError(f"{root} {problem} (protocol {manifest.get('protocol', 'v1')}: every corruption at full "
                         f"resolution, not per test view): {remedy}")


def check_resume(out_root, **settings) -> dict:
    """Resuming or adding codecs to a UCF101-P root needs the same split/severity/seed and protocol; returns the
    corruptions its manifest already lists."""
    path = Path(out_root) / "manifest.json"
    if not path.is_file():
        return {}
    previous = json.loads(path.read_text())
    check_protocol(previous, out_root, "was written with other settings", "use a new --out")
    changed = [k for k, v in settings.items() if previous.get(k) != v]
    if changed:
        raise ValueError(f"{out_root} was written with other settings ({', '.join(changed)}): use a new --out")
    return previous.get("corruptions", {})


def make_ucf101p(src_root, out_root, *, names=corruptions.WHOLE_VIDEO, severity: int = 3, seed: int = 0,
                 split: int = 1, progress: bool = True, print_fn=print) -> dict:
    """Write the codec re-encodings of the UCF101 test split `split` of `src_root`. Resumable: finished codecs
    (DONE) and already written videos (atomic files) are skipped. The pixel corruptions are not written: they act
    on each test view at evaluation time (PROTOCOLS §4.3)."""
    from synvid.data.splits import ucf101
    from synvid.video_io import read_video, video_info
    from tqdm import tqdm
    names = check_tree_names(names)
    src_root, out_root = Path(src_root).resolve(), Path(out_root)
    items, _ = ucf101(src_root, split=split, subset="test")
    missing = [p for p, _ in items if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(items)} UCF101 test videos are missing, e.g. {missing[0]}")
    manifest = {"source": str(src_root), "split": split, "severity": severity, "seed": seed, "protocol": PROTOCOL,
                "num_videos": len(items), "per_view": list(corruptions.PER_VIEW)}
    manifest["corruptions"] = check_resume(out_root, split=split, severity=severity, seed=seed)
    for name in names:
        record = corruptions.REGISTRY[name]
        manifest["corruptions"][name] = {"family": record.family, "param": record.params[severity - 1],
                                         "inferred": record.inferred}
        root = out_root / name
        if is_done(root):
            print_fn(f"{name}: done, skipping")
            continue
        shutil.copytree(src_root / "ucfTrainTestlist", root / "ucfTrainTestlist", dirs_exist_ok=True)
        for path, _ in tqdm(items, desc=name, disable=not progress):
            dst = root / "UCF-101" / Path(path).relative_to(src_root / "UCF-101")
            if not dst.is_file():
                corruptions.write_whole_video(name, read_video(path), severity, dst, fps=video_info(path)["fps"])
        mark_done(root, {"severity": severity, "seed": seed, "num_videos": len(items), "protocol": PROTOCOL})
    atomic_write_json(out_root / "manifest.json", manifest)
    return manifest


def load_finetuned(run_dir, device, allow_unfinished: bool = False) -> tuple[torch.nn.Module, object, int]:
    """The classifier of a `finetune/4_1_finetune.py` run directory (config.json + last.pth); a run without DONE
    is refused unless `allow_unfinished` (engine.common.upstream)."""
    from synvid.checkpoint import load_pretrained
    from synvid.config import FinetuneConfig, load_config
    from synvid.engine.common import upstream
    from synvid.models import build
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file() or not (run_dir / "last.pth").is_file():
        raise FileNotFoundError(f"{run_dir} is not a fine-tuning run directory (needs config.json and last.pth)")
    upstream(run_dir, run_dir, allow_unfinished=allow_unfinished)
    cfg = load_config(FinetuneConfig, run_dir / "config.json")
    num_classes = int(json.loads((run_dir / "config.json").read_text())["num_classes"])
    model = build(cfg.model, num_classes=num_classes, num_frames=cfg.num_frames, img_size=cfg.input_size)
    load_pretrained(model, run_dir / "last.pth")
    return model.to(device).eval(), cfg, num_classes


def read_tree(p_root, severity: int, split: int) -> dict:
    """The manifest of a codec tree written by `make_ucf101p`, checked against this evaluation's settings."""
    path = Path(p_root) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{p_root} has no manifest.json: not a UCF101-P root (data_gen/4_2_make_ucf101p.py)")
    manifest = json.loads(path.read_text())
    check_protocol(manifest, p_root, "was written by another protocol",
                   "write it again with data_gen/4_2_make_ucf101p.py")
    wrong = {k: manifest[k] for k, v in (("severity", severity), ("split", split)) if manifest[k] != v}
    if wrong:
        raise ValueError(f"{p_root} was written with {wrong}, this evaluation uses severity {severity}, split {split}")
    return manifest


def corrupted_test_set(name: str, cfg, *, severity: int, seed: int, num_segments: int, p_root=None, data_root=None):
    """The multi-view test set of one corruption: a codec from the tree `p_root` (else re-encoded on the fly from
    `data_root`), a pixel corruption on each view of `data_root`'s videos."""
    from synvid.data.splits import ucf101
    from synvid.engine.evaluate import test_dataset
    if name in corruptions.WHOLE_VIDEO:
        if p_root is not None:
            if not is_done(Path(p_root) / name):
                raise FileNotFoundError(f"{Path(p_root) / name} is missing or unfinished: run "
                                        f"data_gen/4_2_make_ucf101p.py --names {name}")
            items, _ = ucf101(Path(p_root) / name, split=cfg.split, subset="test")
            return test_dataset(items, cfg, num_segments=num_segments)
        items, _ = ucf101(data_root, split=cfg.split, subset="test")
        return test_dataset(items, cfg, num_segments=num_segments, corrupt=WholeVideoCorruption(name, severity),
                            corrupt_per="video")
    items, _ = ucf101(data_root, split=cfg.split, subset="test")
    views = test_dataset(items, cfg, num_segments=num_segments, corrupt=ViewCorruption(name, severity, seed),
                         corrupt_per="view")
    return KeyedViews(views)


def evaluate_ucf101p(model, cfg, out, *, names=corruptions.NAMES, severity: int = 3, seed: int = 0,
                     p_root=None, data_root=None, num_segments: int = 5, device="cpu", allow_missing: bool = False,
                     print_fn=print) -> dict:
    """Multi-view top-1 on each corruption: pixel corruptions per test view from the clean videos of `data_root`
    (default: the tree's source), codecs from the tree `p_root` (or re-encoded on the fly without one).
    Writes <out>/<name>/results.json (+ DONE) and <out>/summary.json; returns the summary."""
    from synvid.engine.evaluate import evaluate
    if p_root is None and data_root is None:
        raise ValueError("give p_root (written UCF101-P), data_root (clean UCF101, codecs on the fly) or both")
    if p_root is not None:
        source = read_tree(p_root, severity, cfg.split)["source"]
        data_root = data_root or source
        if not Path(data_root).is_dir() and any(n in corruptions.PER_VIEW for n in names):
            raise FileNotFoundError(f"the clean UCF101 root {data_root} named by {p_root}/manifest.json is gone: "
                                    "give --data-root for the per-view corruptions")
    out = Path(out)
    summary = {"severity": severity, "seed": seed, "protocol": PROTOCOL, "top1": {}, "top5": {}}
    for name in check_names(names):
        run = out / name
        if not is_done(run) or read_done(run).get("protocol") != PROTOCOL:
            data = corrupted_test_set(name, cfg, severity=severity, seed=seed, num_segments=num_segments,
                                      p_root=p_root, data_root=data_root)
            results = evaluate(model, data, batch_size=max(cfg.batch_size // 16, 1), device=device,
                               num_workers=cfg.num_workers, bf16=cfg.bf16, allow_missing=allow_missing,
                               print_fn=print_fn)
            applied = "whole_video" if name in corruptions.WHOLE_VIDEO else "per_view"
            atomic_write_json(run / "results.json", {"corruption": name, "severity": severity, "seed": seed,
                                                     "applied": applied, "protocol": PROTOCOL, **results})
            mark_done(run, {"top1": results["top1"], "top5": results["top5"], "protocol": PROTOCOL,
                            **{k: results[k] for k in ("test_listed", "test_evaluated", "test_missing")}})
        done = read_done(run)
        summary["top1"][name], summary["top5"][name] = done["top1"], done["top5"]
        print_fn(f"{name}: top-1 {done['top1']:.2f}")
    atomic_write_json(out / "summary.json", summary)
    return summary


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
        key = video_seed(self.seed, self.name, f"{self.video}/{self.view}")
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


def wins(a: dict[str, float], b: dict[str, float]) -> int:
    """Number of corruptions on which model A's top-1 is strictly higher than model B's (paper: 11/14)."""
    common = [n for n in corruptions.NAMES if n in a and n in b]
    if not common:
        raise ValueError("the two summaries share no corruption")
    return sum(a[n] > b[n] for n in common)


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
