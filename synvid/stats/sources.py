"""Deterministic frame/clip sampling from a registered synthetic dataset or a video list (PROTOCOLS §5, Q17)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from synvid import progression
from synvid.config import RenderConfig
from synvid.data.lists import read_list
from synvid.data.sampling import pretrain_clip_indices, sample_generator
from synvid.errors import BadInput
from synvid.render.video import render
from synvid.render.writer import check_listed_videos
from synvid.video_io import read_video, video_info


class Source:
    """`name` is a registered synthetic dataset (synvid.progression.NAMES) or a path to a `path label` list."""

    def __init__(self, name: str, size: int = 256, seed: int = 0, root=None, synthetic: dict | None = None):
        """`synthetic`: rendering options of a synthetic set (render.video.render's cfg, tex_cfg, imagenet, bank)."""
        self.name, self.size, self.seed = name, size, seed
        self.synthetic = dict(synthetic or {})
        if name in progression.DATASETS:
            self.videos = None
            # a fixed set has cfg.num_videos videos; an on-the-fly set is sampled from one pre-training epoch,
            # which has as many (RenderConfig: equal compute across the progression)
            self.num_videos = (self.synthetic.get("cfg") or RenderConfig()).num_videos
        elif Path(name).is_file():
            self.videos = [p for p, _ in read_list(name, root)]  # root: e.g. UCF-101/ for trainlist01
            check_listed_videos(self.videos)      # a materialised synthetic set of another render version fails
            self.num_videos = len(self.videos)
        else:
            raise BadInput(f"{name!r} is neither a registered synthetic dataset "
                           f"({', '.join(progression.NAMES)}) nor a list file")

    def length(self, index: int) -> int:
        if self.videos is None:
            cfg = self.synthetic.get("cfg")
            return progression.num_frames(self.name, index, self.seed, *([cfg] if cfg else []))
        return video_info(self.videos[index])["num_frames"]

    def read(self, index: int, frames) -> np.ndarray:
        """uint8 [len(frames), H, W, 3] of video `index`."""
        if self.videos is None:
            return render(self.name, index, seed=self.seed, frames=frames, size=self.size, **self.synthetic).numpy()
        return np.asarray(read_video(self.videos[index], frames))


def _pick_videos(source: Source, n: int, rng) -> np.ndarray:
    return rng.choice(source.num_videos, size=n, replace=n > source.num_videos)


def sample_frames(source: Source, n: int, seed: int = 0) -> np.ndarray:
    """n random frames (one per randomly drawn video) -> uint8 [n,H,W,3]; fixed by `seed`."""
    rng = np.random.default_rng(seed)
    out = [source.read(int(v), [int(rng.integers(source.length(int(v))))])[0]
           for v in _pick_videos(source, n, rng)]
    return _stack(out, source)


def sample_clips(source: Source, n: int, num_frames: int, seed: int = 0) -> np.ndarray:
    """n clips of `num_frames` consecutive frames at random starts -> uint8 [n,T,H,W,3] (FVD, PROTOCOLS §5.2)."""
    rng = np.random.default_rng(seed)
    out = []
    for v in _pick_videos(source, n, rng):
        length = source.length(int(v))
        if length < num_frames:
            raise BadInput(f"{source.name} video {v} has {length} frames < {num_frames}")
        start = int(rng.integers(length - num_frames + 1))
        out.append(source.read(int(v), list(range(start, start + num_frames))))
    return _stack(out, source)


def sample_pretrain_clips(source: Source, n: int, num_frames: int, sampling_rate: int, seed: int = 0) -> np.ndarray:
    """n clips of n randomly drawn videos, sampled as pre-training samples them (`pretrain_clip_indices`:
    num_frames at stride sampling_rate from a uniform start, short videos repeat their last frame)
    -> uint8 [n,T,H,W,3] (§5.4 diversity: "16 sampled frames in randomly sampled videos")."""
    rng = np.random.default_rng(seed)
    out = [source.read(int(v), pretrain_clip_indices(source.length(int(v)), num_frames, sampling_rate,
                                                     sample_generator(seed, j)))
           for j, v in enumerate(_pick_videos(source, n, rng))]
    return _stack(out, source)


def _stack(arrays, source):
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise BadInput(f"{source.name}: videos have different sizes {sorted(shapes)}; resize them first")
    return np.stack(arrays)
