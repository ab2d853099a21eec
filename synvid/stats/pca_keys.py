"""Figure 5 (§5.5): PCA of the keys of the last encoder layer. Keys of all tokens of all videos are fitted
jointly; the first three principal components, min-max scaled over everything, become RGB per token and are
upsampled (nearest) to the frames. The keys are the classifier's own `last_block_keys`."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from synvid import models
from synvid.checkpoint import PRETRAIN_TO_CLASSIFIER, load_pretrained
from synvid.config import to_dict
from synvid.errors import BadInput, MissingInput
from synvid.runs import RunDir, atomic_write
from synvid.transforms import normalize
from synvid.video_io import read_video, video_info

VIDEO_EXT = (".avi", ".mp4", ".mkv", ".webm")


def class_videos(data_root, class_name: str, n: int) -> list[Path]:
    """The first `n` videos (sorted) of UCF-101/<class_name>/; raises naming the folder if it has none."""
    folder = Path(data_root) / class_name
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_EXT) if folder.is_dir() else []
    if not files:
        raise MissingInput(f"no videos in {folder} (expected UCF-101/<ClassName>/v_*.avi)")
    return files[:n]


def load_clips(paths, frames: int, size: int) -> np.ndarray:
    """uint8 [V, frames, size, size, 3]: the first `frames` frames (last frame repeated for short videos)."""
    out = []
    for p in paths:
        n = video_info(p)["num_frames"]
        video = torch.as_tensor(np.asarray(read_video(p, np.minimum(np.arange(frames), n - 1))))
        video = F.interpolate(video.permute(0, 3, 1, 2).float(), size=(size, size), mode="bilinear",
                              align_corners=False)
        out.append(video.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy())
    return np.stack(out)


@torch.no_grad()
def last_layer_keys(model, clips: np.ndarray, num_frames: int, device="cpu") -> np.ndarray:
    """[V, T/tubelet, h, w, D] keys (heads concatenated) of model.blocks[-1] (VideoClassifier.last_block_keys);
    clips cut into model-length chunks."""
    v, t, hgt, wid, _ = clips.shape
    if t % num_frames:
        raise BadInput(f"{t} frames is not a multiple of the model's {num_frames} frames")
    model.eval().to(device)
    keys = torch.cat([model.last_block_keys(normalize(torch.from_numpy(clips[i, s:s + num_frames]).to(device))[None])
                      for i in range(v) for s in range(0, t, num_frames)])   # [V*chunks, N, D]
    patch = model.patch_embed.proj.kernel_size
    return keys.reshape(v, t // patch[0], hgt // patch[1], wid // patch[2], -1).float().cpu().numpy()


def pca_rgb(keys: np.ndarray) -> np.ndarray:
    """[..., D] -> [..., 3] in [0, 1]: first 3 PCs of all tokens jointly, signs fixed (largest loading > 0)."""
    flat = keys.reshape(-1, keys.shape[-1]).astype(np.float64)
    flat = flat - flat.mean(0)
    _, _, vt = np.linalg.svd(flat, full_matrices=False)
    comps = vt[:3] * np.sign(vt[:3, np.abs(vt[:3]).argmax(1)].diagonal())[:, None]
    proj = flat @ comps.T
    lo, hi = proj.min(0), proj.max(0)
    rgb = (proj - lo) / np.where(hi > lo, hi - lo, 1.0)
    return rgb.reshape(*keys.shape[:-1], 3).astype(np.float32)


def upsample(rgb: np.ndarray, frames: int, size: int) -> np.ndarray:
    """[V, t, h, w, 3] token colours -> [V, frames, size, size, 3] (nearest, as tokens are patches/tubelets)."""
    x = torch.from_numpy(rgb).permute(0, 4, 1, 2, 3)
    return F.interpolate(x, size=(frames, size, size), mode="nearest").permute(0, 2, 3, 4, 1).numpy()


def key_pca_frames(model, clips: np.ndarray, num_frames: int, device="cpu") -> np.ndarray:
    """uint8 clips [V,T,S,S,3] -> float [V,T,S,S,3] PCA colours of the last-layer keys."""
    rgb = pca_rgb(last_layer_keys(model, clips, num_frames, device))
    return upsample(rgb, clips.shape[1], clips.shape[2])


def save_grid(clips: np.ndarray, rows: list[np.ndarray], labels: list[str], path, videos: int = 3,
              frames: int = 4) -> Path:
    """PNG grid: first row the input frames, then one row per checkpoint; columns = `frames` frames of each of
    the first `videos` videos (evenly spaced)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    videos, t_idx = min(videos, len(clips)), np.linspace(0, clips.shape[1] - 1, frames).round().astype(int)
    all_rows = [clips.astype(np.float32) / 255] + list(rows)
    names = ["input"] + list(labels)
    fig, axes = plt.subplots(len(all_rows), videos * frames, figsize=(1.2 * videos * frames, 1.3 * len(all_rows)),
                             squeeze=False)
    for r, (row, name) in enumerate(zip(all_rows, names)):
        for c in range(videos * frames):
            ax = axes[r][c]
            ax.imshow(row[c // frames, t_idx[c % frames]])
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(textwrap.fill(name.replace("_", " "), 16), fontsize=6)
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return Path(path)


def figure5(cfg, checkpoints: list[str], labels: list[str], out, *, data_root, class_name: str, device="cpu",
            show_videos: int = 3, show_frames: int = 4) -> Path:
    """analysis/5_5_visualize_features.py: one row of key-PCA colours per checkpoint (a `cfg.pca_model` encoder;
    labels default to the file names) on `cfg.pca_videos` videos of `class_name`; <out>/fig5_key_pca.png, then
    DONE. `cfg` is a StatsConfig."""
    labels = labels or [c.rstrip("/").split("/")[-1] for c in checkpoints]
    if len(labels) != len(checkpoints):
        raise BadInput(f"{len(labels)} labels for {len(checkpoints)} checkpoints")
    clips = load_clips(class_videos(data_root, class_name, cfg.pca_videos), cfg.pca_frames, cfg.pca_input_size)
    with RunDir(out, to_dict(cfg, checkpoints=checkpoints, labels=labels, class_name=class_name)) as run:
        if run.done is not None:
            return Path(run.done["png"])
        rows = []
        for path in checkpoints:
            encoder = models.build(cfg.pca_model, num_frames=cfg.pca_num_frames, img_size=cfg.pca_input_size)
            load_pretrained(encoder, path, **PRETRAIN_TO_CLASSIFIER)
            rows.append(key_pca_frames(encoder, clips, cfg.pca_num_frames, device))
        png = save_grid(clips, rows, labels, f"{out}/fig5_key_pca.png", show_videos, show_frames)
        run.finish({"png": str(png), "videos": len(clips), "frames": cfg.pca_frames, "labels": labels})
    return png
