"""Figure 5 (§5.5): PCA of the keys of the last encoder layer. Keys of all tokens of all videos are fitted
jointly; the first three principal components, min-max scaled over everything, become RGB per token and are
upsampled (nearest) to the frames. Keys are captured with a forward pre-hook on blocks[-1].attn, so the
model code is untouched."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from synvid.runs import atomic_write
from synvid.transforms import IMAGENET_MEAN, IMAGENET_STD
from synvid.video_io import read_video, video_info

VIDEO_EXT = (".avi", ".mp4", ".mkv", ".webm")


def class_videos(data_root, class_name: str, n: int) -> list[Path]:
    """The first `n` videos (sorted) of UCF-101/<class_name>/; raises naming the folder if it has none."""
    folder = Path(data_root) / class_name
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_EXT) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no videos in {folder} (expected UCF-101/<ClassName>/v_*.avi)")
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
    """[V, T/tubelet, h, w, D] keys (heads concatenated) of model.blocks[-1]; clips cut into model-length chunks."""
    v, t, hgt, wid, _ = clips.shape
    if t % num_frames:
        raise ValueError(f"{t} frames is not a multiple of the model's {num_frames} frames")
    attn, grabbed = model.blocks[-1].attn, []
    hook = attn.register_forward_pre_hook(lambda mod, inp: grabbed.append(mod.qkv_heads(inp[0])[1]))
    mean = torch.tensor(IMAGENET_MEAN, device=device)[:, None, None, None]
    std = torch.tensor(IMAGENET_STD, device=device)[:, None, None, None]
    model.eval().to(device)
    try:
        for i in range(v):
            for s in range(0, t, num_frames):
                x = torch.from_numpy(clips[i, s:s + num_frames]).to(device).permute(3, 0, 1, 2).float() / 255
                model.tokens(((x - mean) / std)[None])
    finally:
        hook.remove()
    keys = torch.cat([k.transpose(1, 2).flatten(2) for k in grabbed])   # [V*chunks, N, D]
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
