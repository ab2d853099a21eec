"""Shared fixtures: tiny clips written in real on-disk formats. Tests run on CPU only."""
from __future__ import annotations

import numpy as np
import pytest
import torch

# Keep the suite light on a 2-core machine and reproducible.
torch.set_num_threads(1)


def moving_square_clip(num_frames: int = 8, size: int = 32, seed: int = 0) -> torch.Tensor:
    """uint8 [T, H, W, 3]: a bright square moving right over a smooth background (codec-friendly)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    background = np.stack([x * 255 // size, y * 255 // size, np.full_like(x, 64)], -1).astype(np.uint8)
    frames = np.repeat(background[None], num_frames, axis=0)
    colour = rng.integers(128, 256, size=3, dtype=np.uint8)
    side = size // 4
    for t in range(num_frames):
        left = (t * 2) % (size - side)
        frames[t, side:2 * side, left:left + side] = colour
    return torch.from_numpy(frames)


@pytest.fixture
def tiny_clip() -> torch.Tensor:
    return moving_square_clip()


@pytest.fixture
def tiny_videos(tmp_path, tiny_clip):
    """An H.264 `.mp4` and an MPEG-4 part 2 `.avi` (the UCF101 container) of the same 8x32x32 clip."""
    from synvid.video_io import write_video
    mp4 = write_video(tmp_path / "clip.mp4", tiny_clip, fps=25, codec="libx264")
    avi = write_video(tmp_path / "clip.avi", tiny_clip, fps=25, codec="mpeg4", qscale=2)
    return {"clip": tiny_clip, "mp4": mp4, "avi": avi}


@pytest.fixture(scope="session")
def separable_toy(tmp_path_factory):
    """A toy HMDB51-layout set of 4 classes (3 train, 2 test videos each) whose videos are flat frames of one grey
    level per class: trivially separable, so a working probe or fine-tuning reaches 100% top-1 on its test split,
    while an untrained one stays near chance (25%)."""
    from synvid.data import toy
    from synvid.video_io import write_video
    root = toy.make_toy_hmdb51(tmp_path_factory.mktemp("separable") / "toy_hmdb51", num_classes=4, per_class=5,
                               test_per_class=2, unused_per_class=0, frames=12)
    levels = {"moveleft": 20, "moveright": 90, "orbit": 160, "grow": 230}
    for path in root.rglob("*.avi"):
        flat = torch.full((12, 32, 40, 3), levels[path.parent.name], dtype=torch.uint8)
        write_video(path, flat, fps=30, codec="mpeg4", crf=None, qscale=2)
    return root
