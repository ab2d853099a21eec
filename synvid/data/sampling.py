"""Which videos and frames a run reads: keyed seeds, the fine-tuning order of videos (`EpochSampler`), and the
frame indices of training clips and test segments exactly as official VideoMAE (VM `kinetics.py::VideoClsDataset`,
PROTOCOLS.md §2.3-2.4 and Q22). Pre-training's order over all its steps is `pretrain_data.StepSampler`."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Sampler

from synvid import dist
from synvid.errors import BadInput


def keyed_seed(*keys: int) -> int:
    """A 64-bit seed from integer keys (order matters; no collisions between (a, b) and (b, a))."""
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 32 | int(state[1])


def sample_generator(*keys: int) -> torch.Generator:
    """A torch.Generator seeded from integer keys, e.g. (seed, epoch, sample index, stream)."""
    return torch.Generator().manual_seed(keyed_seed(*keys))


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The seeded permutation of n videos for an epoch (fine-tuning and the cached linear probe)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class EpochSampler(Sampler):
    """Seeded per-epoch permutation, sharded over ranks, tail dropped; can start mid-epoch for resume."""

    def __init__(self, n: int, total_batch: int, *, seed: int, epoch: int, skip_steps: int = 0):
        self.n, self.total, self.seed, self.epoch, self.skip = n, total_batch, seed, epoch, skip_steps

    def _indices(self) -> list[int]:
        order = epoch_order(self.n, self.seed, self.epoch)
        order = order[: (self.n // self.total) * self.total][self.skip * self.total:]
        return order[dist.rank()::dist.world_size()].tolist()

    def __iter__(self):
        return iter(self._indices())

    def __len__(self) -> int:
        return len(self._indices())


def clip_indices(num_video_frames: int, *, num_frames: int = 16, sampling_rate: int = 4, mode: str = "train",
                 num_segments: int = 5, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Frame indices into a video of `num_video_frames` frames.

    train -> int64 [num_frames]: a window of num_frames * sampling_rate frames ending at a random
      end in [window, N), indices linspace(start, end, num_frames) clipped to end - 1 (spacing ~4.27 for
      16 x 4, not 4); videos with N <= window use linspace(0, N, N // rate) padded with the last index.
    test -> int64 [num_segments, num_frames]: every `sampling_rate`-th frame of the whole video
      (M of them, the last repeated up to num_frames), segment k = 16 consecutive entries from
      int(k * max(M - num_frames, 0) / (num_segments - 1)).
    """
    if num_video_frames < 1:
        raise BadInput(f"video has {num_video_frames} frames")
    if mode == "train":
        return _train(num_video_frames, num_frames, sampling_rate, np.random.default_rng(seed))
    if mode == "test":
        return _test(num_video_frames, num_frames, sampling_rate, num_segments)
    raise BadInput(f"mode must be 'train' or 'test', got {mode!r}")


def _train(n: int, num_frames: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    window = num_frames * rate
    if n <= window:
        # VM: np.linspace(0, N, num=N // rate), padded with N, clipped to N - 1
        idx = np.linspace(0, n, num=n // rate)
        idx = np.concatenate([idx, np.full(max(num_frames - len(idx), 0), n)])[:num_frames]
        return np.clip(idx, 0, n - 1).astype(np.int64)
    end = int(rng.integers(window, n))  # VM: np.random.randint(converted_len, seg_len)
    start = end - window
    idx = np.linspace(start, end, num=num_frames)
    return np.clip(idx, start, end - 1).astype(np.int64)


def _test(n: int, num_frames: int, rate: int, num_segments: int) -> np.ndarray:
    sub = np.arange(0, n, rate)
    if len(sub) < num_frames:  # VM: repeat the last decoded frame
        sub = np.concatenate([sub, np.full(num_frames - len(sub), sub[-1])])
    spread = max(len(sub) - num_frames, 0) / max(num_segments - 1, 1)
    starts = [int(k * spread) for k in range(num_segments)]
    return np.stack([sub[s:s + num_frames] for s in starts]).astype(np.int64)


def pretrain_clip_indices(num_video_frames: int, num_frames: int, sampling_rate: int, rng) -> list[int]:
    """VM pre-training sampling, the one clip-start rule of every pre-training source: one window of
    num_frames * rate frames, start uniform in [0, N - window]; shorter videos repeat their last frame (PROTOCOLS
    §2.2). `rng`: a torch.Generator (list files: sample_generator keys) or a numpy Generator (synthetic sets:
    progression.rng_for stream 3)."""
    high = max(num_video_frames - num_frames * sampling_rate, 0) + 1
    start = int(rng.integers(0, high)) if isinstance(rng, np.random.Generator) else \
        int(torch.randint(high, (1,), generator=rng))
    return [min(start + k * sampling_rate, num_video_frames - 1) for k in range(num_frames)]
