"""UCF101-P: writing the corrupted test sets and evaluating a fine-tuned model on them (paper Section 4.2, Fig. 3).

Written tree (SCH-VL style, PROTOCOLS §4.3: each test video corrupted once at full resolution, offline):
    <out>/<corruption>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi + <out>/<corruption>/ucfTrainTestlist/ (copied)
    <out>/<corruption>/DONE, <out>/manifest.json
so every corruption is an ordinary UCF101 root that `synvid.data.splits.ucf101` reads.
"""
from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import torch

from synvid import corruptions
from synvid.runs import atomic_write_json, is_done, mark_done


def video_seed(seed: int, name: str, key: str) -> int:
    """Seed of one video: stable across runs and machines (crc32, not Python's salted hash)."""
    return zlib.crc32(f"{seed}/{name}/{key}".encode())


def check_names(names) -> list[str]:
    unknown = [n for n in names if n not in corruptions.NAMES]
    if unknown:
        raise ValueError(f"unknown corruption(s) {unknown}; choose from {', '.join(corruptions.NAMES)}")
    return list(names)


def _write_one(name: str, src: Path, dst: Path, severity: int, seed: int, key: str) -> None:
    from synvid.video_io import read_video, video_info, write_video
    video = read_video(src)
    out = corruptions.apply(name, video, severity, video_seed(seed, name, key))
    # mpeg4 at the finest quantiser keeps the written corruption close to what was computed (DEVIATION: SCH-VL
    # writes with ffmpeg defaults); fps copied from the source
    write_video(dst, out, fps=video_info(src)["fps"], codec="mpeg4", crf=None, qscale=1)


def check_resume(out_root, **settings) -> dict:
    """Resuming or adding corruptions to a UCF101-P root needs the same split/severity/seed; returns the
    corruptions its manifest already lists."""
    path = Path(out_root) / "manifest.json"
    if not path.is_file():
        return {}
    previous = json.loads(path.read_text())
    changed = [k for k, v in settings.items() if previous.get(k) != v]
    if changed:
        raise ValueError(f"{out_root} was written with other settings ({', '.join(changed)}): use a new --out")
    return previous.get("corruptions", {})


def make_ucf101p(src_root, out_root, *, names=corruptions.NAMES, severity: int = 3, seed: int = 0, split: int = 1,
                 progress: bool = True, print_fn=print) -> dict:
    """Write the corrupted copies of the UCF101 test split `split` of `src_root`. Resumable: finished
    corruptions (DONE) and already written videos (atomic files) are skipped."""
    from synvid.data.splits import ucf101
    from tqdm import tqdm
    src_root, out_root = Path(src_root), Path(out_root)
    items, _ = ucf101(src_root, split=split, subset="test")
    missing = [p for p, _ in items if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(items)} UCF101 test videos are missing, e.g. {missing[0]}")
    manifest = {"source": str(src_root), "split": split, "severity": severity, "seed": seed, "num_videos": len(items),
                "corruptions": {}}
    manifest["corruptions"] = check_resume(out_root, split=split, severity=severity, seed=seed)
    for name in check_names(names):
        record = corruptions.REGISTRY[name]
        manifest["corruptions"][name] = {"family": record.family, "param": record.params[severity - 1],
                                         "inferred": record.inferred}
        root = out_root / name
        if is_done(root):
            print_fn(f"{name}: done, skipping")
            continue
        shutil.copytree(src_root / "ucfTrainTestlist", root / "ucfTrainTestlist", dirs_exist_ok=True)
        for path, _ in tqdm(items, desc=name, disable=not progress):
            rel = Path(path).relative_to(src_root / "UCF-101")
            dst = root / "UCF-101" / rel
            if not dst.is_file():
                _write_one(name, Path(path), dst, severity, seed, rel.as_posix())
        mark_done(root, {"severity": severity, "seed": seed, "num_videos": len(items)})
    atomic_write_json(out_root / "manifest.json", manifest)
    return manifest


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


def evaluate_ucf101p(model, cfg, out, *, names=corruptions.NAMES, severity: int = 3, seed: int = 0,
                     p_root=None, data_root=None, num_segments: int = 5, device="cpu", print_fn=print) -> dict:
    """Multi-view top-1 on each corruption. Either `p_root` (a tree written by `make_ucf101p`) or `data_root`
    (clean UCF101, corrupted on the fly once per decoded video, same as the written tree before encoding).
    Writes <out>/<name>/results.json (+ DONE) and <out>/summary.json; returns the summary."""
    from synvid.data.splits import ucf101
    from synvid.engine.evaluate import evaluate, test_dataset
    if (p_root is None) == (data_root is None):
        raise ValueError("give exactly one of p_root (written UCF101-P) or data_root (corrupt on the fly)")
    out = Path(out)
    summary = {"severity": severity, "seed": seed, "top1": {}, "top5": {}}
    for name in check_names(names):
        run = out / name
        if not is_done(run):
            if p_root is not None:
                items, _ = ucf101(Path(p_root) / name, split=cfg.split, subset="test")
                data = test_dataset(items, cfg, num_segments=num_segments)
            else:
                items, _ = ucf101(data_root, split=cfg.split, subset="test")
                hook = _on_the_fly(name, severity, seed)
                data = test_dataset(items, cfg, num_segments=num_segments, corrupt=hook, corrupt_per="video")
            results = evaluate(model, data, batch_size=max(cfg.batch_size // 16, 1), device=device,
                               num_workers=cfg.num_workers, bf16=cfg.bf16, print_fn=print_fn)
            atomic_write_json(run / "results.json", {"corruption": name, "severity": severity, **results})
            mark_done(run, {"top1": results["top1"], "top5": results["top5"]})
        from synvid.runs import read_done
        done = read_done(run)
        summary["top1"][name], summary["top5"][name] = done["top1"], done["top5"]
        print_fn(f"{name}: top-1 {done['top1']:.2f}")
    atomic_write_json(out / "summary.json", summary)
    return summary


class _on_the_fly:
    """Picklable corrupt hook (DataLoader workers): the per-video seed comes from the video content, because the
    hook sees only the frames."""

    def __init__(self, name: str, severity: int, seed: int):
        self.name, self.severity, self.seed = name, severity, seed

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        key = str(zlib.crc32(video[::8, ::16, ::16].contiguous().numpy().tobytes()))
        return corruptions.apply(self.name, video, self.severity, video_seed(self.seed, self.name, key))


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
