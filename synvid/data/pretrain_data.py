"""Pre-training data: on-the-fly synthetic sets, materialised list files and natural-video lists
(PROTOCOLS §2.2, VM `kinetics.py::VideoMAE`, `datasets.py::DataAugmentationForVideoMAE`).

Every random choice (clip start, crop, tube mask) is drawn from a generator seeded by (seed, epoch, index), so a
sample is the same in any worker, on any rank and after a resume. `StepSampler` gives the data order.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from synvid import progression
from synvid.data.lists import read_list
from synvid.data.sampling import pretrain_clip_indices, sample_generator
from synvid.errors import BadInput, MissingInput
from synvid.models.videomae import PATCH, TUBELET, token_window, tube_mask
from synvid.render.stream import SyntheticClips
from synvid.render.writer import check_listed_videos
from synvid.transforms import MultiScaleCrop, normalize
from synvid.video_io import read_video, video_info


class VideoListClips(Dataset):
    """Raw clips uint8 [T,H,W,3] from an official list file (`path label` lines; labels ignored)."""

    def __init__(self, list_file: str | Path, *, num_frames: int, sampling_rate: int, seed: int = 0, root=None):
        self.items = [p for p, _ in read_list(list_file, root)]
        missing = [p for p in self.items if not Path(p).is_file()]
        if missing:
            raise MissingInput(f"{len(missing)} video(s) of {list_file} not found, e.g. {missing[0]}")
        check_listed_videos(self.items)             # a materialised synthetic set of another render version fails
        self.num_frames, self.sampling_rate, self.seed, self.epoch = num_frames, sampling_rate, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> torch.Tensor:
        path = self.items[i]
        g = sample_generator(self.seed, self.epoch, i, 1)
        n = video_info(path)["num_frames"]
        return read_video(path, pretrain_clip_indices(n, self.num_frames, self.sampling_rate, g))


def raw_clips(dataset: str | None, list_file: str | None, *, pretrain_cfg, size: int = 256, textures=None,
              mix_list: str | None = None, **synthetic) -> Dataset:
    """`mix_list`: real videos replacing the last pretrain_cfg.mix_fraction of each epoch (MixedClips, Table 11)."""
    clips = _clips(dataset, list_file, pretrain_cfg=pretrain_cfg, size=size, textures=textures, **synthetic)
    if pretrain_cfg.mix_fraction == 0:
        if mix_list:
            raise BadInput("--mix-list given but mix_fraction is 0 (set --mix-fraction)")
        return clips
    if not mix_list:
        raise BadInput(f"mix_fraction {pretrain_cfg.mix_fraction} needs --mix-list FILE (the real videos)")
    real = VideoListClips(mix_list, num_frames=pretrain_cfg.num_frames, sampling_rate=pretrain_cfg.sampling_rate,
                          seed=pretrain_cfg.seed)
    return MixedClips(clips, real, pretrain_cfg.mix_fraction, seed=pretrain_cfg.seed)


def _clips(dataset: str | None, list_file: str | None, *, pretrain_cfg, size: int = 256, textures=None,
           **synthetic) -> Dataset:
    """The clip source: a synthetic name (synvid.progression) or a list file (materialised or natural videos).
    `synthetic`: SyntheticClips' rendering options (cfg = RenderConfig, tex_cfg, imagenet, bank)."""
    if (dataset is None) == (list_file is None):
        raise BadInput("give exactly one of --dataset NAME or --list FILE")
    if list_file is not None:
        return VideoListClips(list_file, num_frames=pretrain_cfg.num_frames,
                              sampling_rate=pretrain_cfg.sampling_rate, seed=pretrain_cfg.seed)
    if dataset not in progression.DATASETS:
        raise BadInput(f"unknown dataset {dataset!r}; on-the-fly names: {', '.join(progression.DATASETS)}; "
                       f"or pass a list file with --list")
    # an epoch has RenderConfig.num_videos clips (synthetic["cfg"]), as many as a fixed set has videos
    return SyntheticClips(dataset, num_frames=pretrain_cfg.num_frames, sampling_rate=pretrain_cfg.sampling_rate,
                          seed=pretrain_cfg.seed, size=size, textures=textures, **synthetic)


class MixedClips(Dataset):
    """Table 11 (§9.4, "replacing 25% and 75% of training data by sampling real videos"): as the authors'
    AlignedDataset_video, the last `fraction` of each epoch's indices are a random clip of `real` (seeded by
    (seed, epoch, index)); the others are `primary`'s clip of that index."""

    def __init__(self, primary: Dataset, real: Dataset, fraction: float, seed: int = 0):
        if not 0.0 < fraction < 1.0:
            raise BadInput(f"mix_fraction must lie in (0, 1), got {fraction}")
        self.primary, self.real, self.seed, self.epoch = primary, real, seed, 0
        self.first_real = int(len(primary) * (1.0 - fraction))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        for part in (self.primary, self.real):
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.primary)

    def __getitem__(self, i: int) -> torch.Tensor:
        if i < self.first_real:
            return self.primary[i]
        j = int(torch.randint(len(self.real), (1,), generator=sample_generator(self.seed, self.epoch, i, 4)))
        return self.real[j]


class PretrainDataset(Dataset):
    """(video float [3,T,S,S] ImageNet-normalised, mask bool [N]) pairs: MultiScaleCrop + tube mask per sample."""

    def __init__(self, clips: Dataset, *, input_size: int, mask_ratio: float, patch: int = PATCH,
                 tubelet: int = TUBELET, num_frames: int = 16, seed: int = 0):
        self.clips, self.crop, self.seed, self.epoch = clips, MultiScaleCrop(input_size), seed, 0
        self.window, self.mask_ratio = token_window(num_frames, input_size, patch, tubelet), mask_ratio

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.clips, "set_epoch"):
            self.clips.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key):
        """`key` is an index (current epoch) or an (epoch, index) pair from `StepSampler`."""
        if isinstance(key, (tuple, list)):
            epoch, i = key
            if epoch != self.epoch:
                self.set_epoch(epoch)
        else:
            i = key
        clip = self.clips[i]
        if not isinstance(clip, torch.Tensor):
            clip = torch.as_tensor(np.asarray(clip))
        g = sample_generator(self.seed, self.epoch, i, 2)
        video = normalize(self.crop(clip, generator=g))
        mask = tube_mask(1, self.window, self.mask_ratio, generator=g)[0]
        return video, mask


class StepSampler(Sampler[tuple[int, int]]):
    """DistributedSampler-like order over all remaining steps, yielding (epoch, index) pairs.

    Each epoch is a permutation of the dataset drawn from (seed, epoch), cut into global batches of `total_batch`
    (drop_last, so steps_per_epoch = size // total_batch); rank r takes its slice of each global batch. Starting at
    `start_step` skips the batches already trained on, so a resumed run sees exactly the samples an uninterrupted
    run would. Carrying the epoch in the key lets one persistent DataLoader span all epochs.
    """

    def __init__(self, size: int, *, total_batch: int, rank: int, world_size: int, seed: int, start_step: int,
                 total_steps: int):
        self.size, self.total, self.rank, self.seed = size, total_batch, rank, seed
        self.per_rank = total_batch // world_size
        self.steps_per_epoch = size // total_batch
        self.start, self.stop = start_step, total_steps

    def __len__(self) -> int:
        return max(self.stop - self.start, 0) * self.per_rank

    def epoch_order(self, epoch: int) -> list[int]:
        return torch.randperm(self.size, generator=sample_generator(self.seed, epoch, 0, 3)).tolist()

    def __iter__(self):
        perm, perm_epoch = None, -1
        for step in range(self.start, self.stop):
            epoch, s = divmod(step, self.steps_per_epoch)
            if epoch != perm_epoch:
                perm, perm_epoch = self.epoch_order(epoch), epoch
            lo = s * self.total + self.rank * self.per_rank
            yield from ((epoch, i) for i in perm[lo:lo + self.per_rank])
