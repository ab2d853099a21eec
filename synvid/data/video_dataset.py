"""Labelled video datasets for fine-tuning (train clips with the VM augmentations) and the multi-view test
(PROTOCOLS.md §2.3-2.4).

Unreadable videos (STYLE rule 10): an item that cannot be decoded comes back as a `Failed(path, error)`
record instead of a clip (never a random replacement); `collate` drops it and passes the names on, so the
loop can report each one and count them. With `strict=True` the first one raises `VideoReadError`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from synvid.augment import AugmentError, train_augment
from synvid.data.sampling import clip_indices, sample_generator
from synvid.errors import BadInput, VideoReadError
from synvid.transforms import short_side_resize, three_crops
from synvid.video_io import read_video, video_info

# (uint8 [T,H,W,3], (video file name, view index or None for the whole video)) -> uint8 [T,H,W,3]
Corrupt = Callable[[torch.Tensor, tuple[str, int | None]], torch.Tensor]

# TrainClips(cache_decoded=True) refuses a set whose decoded frames would exceed this per process
CACHE_LIMIT_BYTES = 4 << 30


@dataclass
class Failed:
    path: str
    error: str


class _Videos(Dataset):
    def __init__(self, items: list[tuple[str, int]], *, strict: bool = False):
        self.items, self.strict = list(items), strict

    def __len__(self) -> int:
        return len(self.items)

    def _guard(self, index: int, load):
        path = self.items[index][0]
        try:
            return load(path)
        except VideoReadError as error:
            if self.strict:
                raise
            # never a random replacement (STYLE rule 10): the loop records it and the ranks decide together
            return Failed(path, str(error))


class TrainClips(_Videos):
    """Item i -> (float [R,3,T,S,S] with R = repeated_aug independent augmentations, label) or Failed.
    Every draw (clip start, RandAugment, crop, flip, erasing) is keyed by (seed, epoch, i): ranks see disjoint
    indices, so they draw different augmentations, and a resumed epoch draws the same ones.

    `cache_decoded` (FinetuneConfig.cache_decoded, for small sets): each readable video is decoded once, whole,
    and kept as uint8 frames in this object; a clip is then a slice of them with the same clip_indices draw, so
    the clips are those of the uncached path. `fill_cache` decodes them all in the process that calls it (the
    fine-tuning loop, before its per-epoch workers fork and share them); otherwise each process fills its own
    copy as it reads. An unreadable video is never cached: it comes back Failed on every read, as uncached."""

    def __init__(self, items, cfg, *, seed: int = 0, strict: bool = False, cache_decoded: bool = False):
        super().__init__(items, strict=strict)
        self.cfg, self.seed, self.epoch = cfg, seed, 0
        self.augment = train_augment(cfg)
        self.cache: dict[int, torch.Tensor] | None = None
        if cache_decoded:
            check_cache_size(self.items)
            self.cache = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def fill_cache(self) -> None:
        for index, (path, _) in enumerate(self.items):
            try:
                self._decoded(index, path)
            except VideoReadError:
                pass    # left out of the cache: __getitem__ reads it again and reports it (Failed or strict)

    def _decoded(self, index: int, path: str) -> torch.Tensor:
        if index not in self.cache:
            self.cache[index] = read_video(path)
        return self.cache[index]

    def _clip(self, index: int, path: str) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, index])

        def frames_of(n: int):
            return clip_indices(n, num_frames=self.cfg.num_frames, sampling_rate=self.cfg.sampling_rate,
                                mode="train", seed=rng)
        if self.cache is None:
            return read_video(path, frames_of)
        frames = self._decoded(index, path)
        return frames[torch.from_numpy(np.asarray(frames_of(len(frames)), dtype=np.int64))]

    def __getitem__(self, index: int):
        clip = self._guard(index, lambda path: self._clip(index, path))
        if isinstance(clip, Failed):
            return clip
        # outside the guard: an augmentation failure is a fault of ours, never an unreadable video to skip.
        # VM --num_sample: one decoded clip, R independent augmentations (PROTOCOLS §2.3), each from its own
        # generator keyed by (seed, epoch, video, repeat): the same view in any worker, rank or resumed run
        try:
            views = [self.augment(clip, sample_generator(self.seed, self.epoch, index, r))
                     for r in range(self.cfg.repeated_aug)]
        except AugmentError as error:
            raise AugmentError(f"{error} (video {self.items[index][0]}, epoch {self.epoch})") from error
        return torch.stack(views), self.items[index][1]


def check_cache_size(items: list[tuple[str, int]], limit: int | None = None) -> int:
    """Estimated bytes of the decoded set (videos x frames x H x W x 3, from the first readable video); raises
    BadInput above `limit` (default CACHE_LIMIT_BYTES), before any training. Returns the estimate (0 when no
    video opens)."""
    limit = CACHE_LIMIT_BYTES if limit is None else limit
    for path, _ in items:
        try:
            info = video_info(path)
        except VideoReadError:
            continue
        size = len(items) * info["num_frames"] * info["height"] * info["width"] * 3
        if size > limit:
            raise BadInput(f"cache_decoded: {len(items)} videos of {info['num_frames']} frames of "
                           f"{info['width']}x{info['height']} (as {path}) decode to about {size / 2**30:.1f} GiB "
                           f"per process, over the {limit / 2**30:.1f} GiB limit; the cache is for small sets "
                           f"(turn cache_decoded off)")
        return size
    return 0


class TestViews(_Videos):
    """Item i -> (uint8 [S*C,T,size,size,3] views in (segment, crop) order, label, i) or Failed. The views stay
    bytes until they reach the device (evaluate.to_model_input normalises there): at the paper profile an item is
    15 x 16 x 224^2 x 3 B = 36 MB instead of 145 MB of float32.

    `corrupt` (UCF101-P): with corrupt_per="view" it runs on each uint8 view after the resize and crop,
    before normalisation (YU, PROTOCOLS §4.3); with "video" once on the whole decoded video (codecs). It is given
    the key (video file name, view index in (segment, crop) order; None for the whole video), the same in the clean
    root and any copy of it, so a seeded corruption depends on (video, view) only, in any worker or rank."""

    def __init__(self, items, *, num_frames=16, sampling_rate=4, num_segments=5, num_crops=3, size=224,
                 strict=False, corrupt: Corrupt | None = None, corrupt_per: str = "view"):
        super().__init__(items, strict=strict)
        if corrupt_per not in ("view", "video"):
            raise BadInput(f"corrupt_per must be 'view' or 'video', got {corrupt_per!r}")
        self.num_frames, self.rate, self.segments = num_frames, sampling_rate, num_segments
        self.crops, self.size, self.corrupt, self.corrupt_per = num_crops, size, corrupt, corrupt_per

    def _views(self, path: str) -> torch.Tensor:
        video, chosen = Path(path).name, []

        def views_of(n: int):           # the 5 x T frame ids of the test clips, from the frame count
            chosen.append(clip_indices(n, num_frames=self.num_frames, sampling_rate=self.rate, mode="test",
                                       num_segments=self.segments))
            return chosen[0].reshape(-1)
        if self.corrupt is not None and self.corrupt_per == "video":
            frames = read_video(path)
            frames = self.corrupt(frames, (video, None))[torch.from_numpy(views_of(len(frames)))]
        else:
            frames = read_video(path, views_of)
        idx = chosen[0]
        # filled in place (no list + stack copy); resized one segment at a time (float copies of 16 frames, not 80)
        views = torch.empty((len(idx) * self.crops, self.num_frames, self.size, self.size, 3), dtype=torch.uint8)
        for k, segment in enumerate(frames.split(self.num_frames)):
            segment = short_side_resize(segment, self.size)
            for c, crop in enumerate(three_crops(segment, self.size, self.crops)):
                if self.corrupt is not None and self.corrupt_per == "view":
                    crop = self.corrupt(crop, (video, k * self.crops + c))
                views[k * self.crops + c] = crop
        return views

    def item_bytes(self) -> int:
        """Host bytes of one item's views."""
        return self.segments * self.crops * self.num_frames * self.size * self.size * 3

    def __getitem__(self, index: int):
        out = self._guard(index, self._views)
        return out if isinstance(out, Failed) else (out, self.items[index][1], index)


def collate(batch: list):
    """Stack the good items; returns (*stacked fields, list of Failed)."""
    failed = [b for b in batch if isinstance(b, Failed)]
    good = [b for b in batch if not isinstance(b, Failed)]
    if not good:
        return None, failed
    fields = []
    for column in zip(*good):
        first = column[0]
        fields.append(torch.stack(column) if isinstance(first, torch.Tensor) else torch.as_tensor(column))
    return tuple(fields), failed


class FailureLog:
    """Counts and names unreadable videos during a run; prints each as it happens and a summary at the end."""

    def __init__(self, print_fn=print):
        self.names: list[str] = []
        self.print = print_fn

    def add(self, failed: list[Failed]) -> None:
        for f in failed:
            if f.path not in self.names:
                self.names.append(f.path)
            self.print(f"warning: skipped unreadable video {f.path}: {f.error}")

    def summary(self) -> dict:
        if self.names:
            self.print(f"warning: {len(self.names)} unreadable video(s) were skipped (rerun with --strict to stop "
                       f"at the first): {self.names[:10]}")
        return {"skipped_videos": len(self.names), "skipped_names": list(self.names)}
