"""Supervised training on augmented clips (Section 4.1, Table 6, PROTOCOLS.md §2.3; VM `engine_for_finetuning.py`):
fine-tuning, and the finetune_aug linear probe (§4.3, the same loop with only the head trainable). The loop and
its step are loop.TrainLoop's; here are the data, the schedule, the loss, and the per-step agreement of the ranks
on which videos they could read."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from synvid import dist
from synvid.config import FinetuneConfig
from synvid.data.sampling import EpochSampler
from synvid.data.video_dataset import FailureLog, TrainClips, collate
from synvid.engine import common, loop
from synvid.engine.losses import build_mixing, flatten_repeats, soft_target_cross_entropy
from synvid.errors import BadInput, VideoReadError
from synvid.optim import param_groups


def agree(size: int, failed: list, *, strict: bool = False, min_size: int = 1) -> float | None:
    """One small all-reduce per step, so that no rank waits alone in the gradient all-reduce. `size`: this rank's
    readable videos in the step. Every rank learns whether some rank holds fewer than `min_size` (then all skip the
    step together; returns None) and how many videos all ranks hold (returns this rank's loss weight
    size * world / total, so DDP's averaged gradient is the mean over the videos actually read). With `strict` an
    unreadable video on any rank stops every rank, naming the files."""
    short, total, unreadable = dist.all_reduce_sum([size < min_size, size, len(failed)]).tolist()
    if unreadable and strict:
        names = [f.path for part in dist.all_gather_objects(failed) for f in part]
        raise VideoReadError(f"{len(names)} unreadable training video(s) (strict): {names[:10]}")
    return None if short else size * dist.world_size() / total


def min_videos(model: torch.nn.Module, cfg, per_rank: int) -> int:
    """Videos a rank needs for a step: BatchNorm in training (the probe's head) needs two rows, so with one view per
    video a rank left with one video skips the step (with all ranks, `agree`)."""
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    need = 2 if has_bn and cfg.repeated_aug < 2 else 1
    if per_rank < need:
        raise BadInput(f"the probe's BatchNorm head needs 2 clips per process: a total batch of {cfg.batch_size} "
                       f"over {dist.world_size()} processes gives 1 (raise --batch-size)")
    return need


class AugmentedClipTraining(loop.TrainLoop):
    """`model` trained on augmented clips of `train_items` (RandAugment, crops, flip, erasing, repeated aug,
    MixUp/CutMix, label smoothing) with the layer-decayed AdamW and cosine lr of Table 6: fine-tuning, or the
    finetune_aug probe when only the model's head is trainable. `failures`: the training videos found unreadable."""

    def __init__(self, cfg: FinetuneConfig, run_dir: Path, train_items, model: torch.nn.Module, num_classes: int,
                 config: dict, device):
        # never raises in a worker (one rank stopping alone would leave the others in a collective):
        # cfg.strict is enforced by `agree`, on every rank at once
        data = TrainClips(train_items, cfg, seed=cfg.seed, strict=False, cache_decoded=cfg.cache_decoded)
        if cfg.cache_decoded and cfg.num_workers > 0:
            data.fill_cache()   # here, once: each epoch's workers fork from this process and share the frames
        super().__init__(cfg, run_dir, config, device, len(data))
        self.data, self.failures = data, FailureLog()
        self.prepare(model, param_groups(model, cfg.weight_decay, cfg.layer_decay),  # PROTOCOLS §2.3
                     {"lr": loop.cosine_lr(cfg, self.steps_per_epoch)}, betas=(cfg.beta1, cfg.beta2))
        common.seed_rank(cfg.seed)  # the model is identical on every rank; from here on each rank draws its own
        self.mix = build_mixing(cfg, num_classes)
        self.min_videos = min_videos(self.model, cfg, self.per_rank)

    def loader(self, epoch: int, skip: int) -> DataLoader:
        self.data.set_epoch(epoch)
        sampler = EpochSampler(len(self.data), self.cfg.batch_size, seed=self.cfg.seed, epoch=epoch, skip_steps=skip)
        workers = self.cfg.num_workers
        # its own generator: a DataLoader iterator otherwise draws its base seed from the global RNG, which then
        # differs between a resumed and a straight run (mixup, drop path and dropout read the global RNG)
        loader_rng = torch.Generator().manual_seed(self.cfg.seed + epoch)
        return DataLoader(self.data, batch_size=self.per_rank, sampler=sampler, num_workers=workers,
                          generator=loader_rng, collate_fn=collate, pin_memory=self.device.type == "cuda",
                          persistent_workers=False, prefetch_factor=4 if workers > 0 else None)

    def batches(self, stop: int):
        """{clips, labels, weight} per step, epoch by epoch; None for a step every rank skips (a rank whose videos
        were all unreadable: skipped, not replaced)."""
        for epoch, skip in self.epochs(stop):
            for fields, failed in self.loader(epoch, skip):
                self.failures.add(failed)
                size = 0 if fields is None else int(fields[0].shape[0])
                weight = agree(size, failed, strict=self.cfg.strict, min_size=self.min_videos)
                yield None if weight is None else {"clips": fields[0], "labels": fields[1], "weight": weight}

    def samples(self, batch: dict) -> int:
        return batch["clips"].shape[0] * batch["clips"].shape[1] * self.world

    def loss(self, clips: torch.Tensor, labels: torch.Tensor, step: int, weight: float = 1.0) -> torch.Tensor:
        """clips [B,R,3,T,S,S] (R repeated augmentations of each video). MixUp/CutMix, dropout and drop path draw
        from the global generator seeded by (seed, step, rank), so a resumed run draws the same. `weight` (agree)
        scales this rank's mean loss so that DDP's gradient average weighs every video the same."""
        common.seed_step(self.cfg.seed, step)
        videos, labels = flatten_repeats(clips, labels)
        videos, labels = videos.to(self.device, non_blocking=True), labels.to(self.device)
        videos, targets = self.mix(videos, labels)
        return soft_target_cross_entropy(self.net(videos), targets) * weight
