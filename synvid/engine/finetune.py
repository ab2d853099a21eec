"""Supervised fine-tuning and the final multi-view test (Section 4.1, Table 6, PROTOCOLS.md §2.3-2.4;
VM `run_class_finetuning.py`, `engine_for_finetuning.py`), one DDP code path under torchrun.

Run directory: config.json (first), log.jsonl, last.pth (atomic, every `save_every` steps and at the end),
results.json (top-1/top-5 + per-video scores) and DONE (last). Rerunning resumes from last.pth.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Sampler
from torchvision.transforms import v2
from tqdm import tqdm

from synvid import dist
from synvid.config import FinetuneConfig, to_dict
from synvid.data import registry
from synvid.data.video_dataset import FailureLog, TrainClips, collate
from synvid.engine import common
from synvid.engine.evaluate import evaluate, test_dataset
from synvid.errors import BadInput, MissingInput
from synvid.optim import build_adamw, cosine_schedule, param_groups, scaled_lr
from synvid.runs import is_done, read_done, upstream_objective
from synvid.video_io import VideoReadError

RESUME_FREE = {"num_workers", "save_every", "compile", "strict", "allow_missing"}


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


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The seeded permutation of n videos for an epoch (fine-tuning and the cached linear probe)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def soft_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """timm SoftTargetCrossEntropy: mean over the batch of -sum(targets * log_softmax(logits))."""
    return torch.sum(-targets * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


def soft_targets(labels: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    """One-hot with label smoothing folded in (timm: off = eps / C, on = 1 - eps + eps / C)."""
    off = smoothing / num_classes
    return F.one_hot(labels, num_classes).float() * (1.0 - smoothing) + off


def flatten_repeats(clips: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[B,R,...] -> [R*B,...] repetition-major (v0a, v1a, ..., v0b, v1b, ...). torchvision's MixUp/CutMix pair
    sample i with i-1 (roll), so VM's video-major order (v0a, v0b, ...) would mix half the batch with the other
    view of the same video (same label); in this order a pair shares a video only when B = 1, as with timm's flip."""
    return clips.transpose(0, 1).flatten(0, 1), labels.repeat(clips.shape[1])


def build_mixing(cfg, num_classes: int):
    """torchvision v2 MixUp/CutMix, one of them per batch with prob 0.5 each (timm Mixup mode 'batch',
    switch_prob 0.5, prob 1.0). Returns fn(videos [B,3,T,H,W], labels [B]) -> (videos, soft targets [B,C])."""
    choices = []
    if cfg.mixup > 0:
        choices.append(v2.MixUp(alpha=cfg.mixup, num_classes=num_classes))
    if cfg.cutmix > 0:
        choices.append(v2.CutMix(alpha=cfg.cutmix, num_classes=num_classes))
    if len(choices) == 2:
        mixer = v2.RandomChoice(choices, p=[1 - cfg.mixup_switch_prob, cfg.mixup_switch_prob])
    else:
        mixer = choices[0] if choices else None

    def apply(videos: torch.Tensor, labels: torch.Tensor):
        if mixer is None:
            return videos, soft_targets(labels, num_classes, cfg.label_smoothing)
        # v2 mixes along dim 0 and cuts the last two dims, so [B,3,T,H,W] works as a batch of "videos"
        from torchvision import tv_tensors
        mixed, target = mixer(tv_tensors.Video(videos), labels)
        target = target * (1.0 - cfg.label_smoothing) + cfg.label_smoothing / num_classes  # linear: = timm order
        return mixed.as_subclass(torch.Tensor), target
    return apply


def build_model(cfg, num_classes: int, init: str, device, print_fn=print) -> torch.nn.Module:
    """Classifier for `num_classes`; `init` = "scratch" or a checkpoint (ours, official VideoMAE, HF)."""
    from synvid.checkpoint import PRETRAIN_TO_CLASSIFIER, load_pretrained
    from synvid.models import build
    torch.manual_seed(cfg.seed)
    model = build(cfg.model, num_classes=num_classes, num_frames=cfg.num_frames, img_size=cfg.input_size,
                  drop_path=cfg.drop_path, dropout=cfg.dropout)
    if init != "scratch":
        info = load_pretrained(model, init, **PRETRAIN_TO_CLASSIFIER)
        print_fn(f"loaded {init} ({info['layout']} layout); fresh: {info['missing']}")
    return model.to(device)


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


class Finetuner:
    """Model, optimizer, data and schedule of one fine-tuning run."""

    def __init__(self, cfg: FinetuneConfig, run_dir: Path, train_items, num_classes: int, init: str, config, device,
                 model: torch.nn.Module | None = None):
        """`model` (optional) replaces the classifier built from `init`, e.g. the linear probe's frozen encoder."""
        self.cfg, self.run_dir, self.config, self.device = cfg, run_dir, config, device
        self.num_classes = num_classes
        self.per_rank = common.per_rank_batch(cfg.batch_size, dist.world_size())
        # never raises in a worker (one rank stopping alone would leave the others in a collective):
        # cfg.strict is enforced by `agree`, on every rank at once
        self.data = TrainClips(train_items, cfg, seed=cfg.seed, strict=False)
        self.steps_per_epoch = len(self.data) // cfg.batch_size  # drop_last, as VM
        if self.steps_per_epoch < 1:
            raise BadInput(f"{len(self.data)} training videos are fewer than the total batch {cfg.batch_size}")
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.lr = cosine_schedule(scaled_lr(cfg.base_lr, cfg.batch_size), scaled_lr(cfg.min_lr, cfg.batch_size),
                                  cfg.epochs, self.steps_per_epoch, cfg.warmup_epochs)
        self.model = model if model is not None else build_model(cfg, num_classes, init, device)
        groups = param_groups(self.model, cfg.weight_decay, cfg.layer_decay)  # PROTOCOLS §2.3: L + 2 layer ids
        self.optimizer = build_adamw(groups, float(self.lr[0]), betas=(cfg.beta1, cfg.beta2))
        self.start = common.resume(run_dir, model=self.model, optimizer=self.optimizer)
        common.seed_rank(cfg.seed)  # the model is identical on every rank; from here on each rank draws its own
        self.mix = build_mixing(cfg, num_classes)
        self.min_videos = min_videos(self.model, cfg, self.per_rank)
        self.net = self.model
        if dist.world_size() > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if cfg.compile:
            self.net = torch.compile(self.net)

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

    def step(self, clips: torch.Tensor, labels: torch.Tensor, step: int, weight: float = 1.0) -> tuple[float, float]:
        """clips [B,R,3,T,S,S] (R repeated augmentations of each video); one AdamW step. MixUp/CutMix, dropout and
        drop path draw from the global generator seeded by (seed, step, rank) (issue 13 §1). `weight` (agree)
        scales this rank's mean loss so that DDP's gradient average weighs every video the same."""
        common.seed_step(self.cfg.seed, step)
        lr = common.set_lr(self.optimizer, self.lr, step)
        videos, labels = flatten_repeats(clips, labels)
        videos, labels = videos.to(self.device, non_blocking=True), labels.to(self.device)
        videos, targets = self.mix(videos, labels)
        with common.autocast(self.device, self.cfg.bf16):
            logits = self.net(videos)
        loss = soft_target_cross_entropy(logits, targets) * weight
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return dist.all_reduce_mean(loss.detach()), lr

    def epoch(self, step: int, stop: int, failures: FailureLog, log, bar, timer, signals) -> int:
        """The steps of the current epoch from `step` (at most up to `stop`); returns the step reached."""
        epoch = step // self.steps_per_epoch
        for fields, failed in self.loader(epoch, step % self.steps_per_epoch):
            failures.add(failed)
            timer.data_ready()
            size = 0 if fields is None else int(fields[0].shape[0])
            weight = agree(size, failed, strict=self.cfg.strict, min_size=self.min_videos)
            if weight is not None:  # a step with a rank whose videos were all unreadable is skipped, not replaced
                loss, lr = self.step(*fields, step, weight)
                common.check_finite(loss, step + 1, self.run_dir)
                timer.step_done(fields[0].shape[0] * fields[0].shape[1] * dist.world_size())
                log.write(step + 1, epoch=epoch, loss=loss, lr=lr, **timer.stats())
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
            timer.reset()
            step += 1
            bar.update()
            preempted = signals.requested()   # SLURM's warning signal: save now, requeue, resume
            if preempted or step % self.cfg.save_every == 0 or step == stop:
                common.save(self.run_dir, model=self.model, optimizer=self.optimizer, step=step,
                            epoch=step // self.steps_per_epoch, config=self.config)
            if preempted:
                raise common.Preempted(step, self.run_dir)
            if step >= stop:
                break
        return step

    def fit(self, failures: FailureLog, stop_after: int | None = None, progress: bool = True) -> int:
        stop = self.total_steps if stop_after is None else min(stop_after, self.total_steps)
        log = common.RunLogger(self.run_dir, resume_step=self.start)
        bar = tqdm(total=stop, initial=self.start, disable=not (progress and dist.is_main()), desc="finetune")
        step, timer = self.start, common.StepTimer()
        self.net.train()
        with common.StopSignal() as signals:
            while step < stop:
                step = self.epoch(step, stop, failures, log, bar, timer, signals)
        bar.close()
        log.close()
        return step


def load_splits(dataset: str, data_root, cfg) -> tuple:
    """(train Split, test Split), checked before any step: the test split strict unless cfg.allow_missing."""
    train = registry.load_split(dataset, data_root, "train", cfg.split)
    test = registry.load_split(dataset, data_root, "test", cfg.split, allow_missing=cfg.allow_missing)
    if test.classes != train.classes:
        raise BadInput(f"{dataset}: train and test splits list different classes")
    return train, test


def train_record(train, failures: FailureLog) -> dict:
    """Training-split skips (allowed, recorded): unreadable videos of every rank and listed ones not on disk."""
    failures.summary()   # prints this rank's skips
    names = sorted({n for part in dist.all_gather_objects(failures.names) for n in part})
    return {"train_skipped_videos": len(names), "train_skipped_names": names, "train_listed": train.listed,
            "train_missing": [Path(m).name for m in train.missing]}


def run(cfg: FinetuneConfig, out: str | Path, *, dataset: str, data_root: str | Path, init: str = "scratch",
        stop_after: int | None = None, progress: bool = True, extra: dict | None = None,
        allow_unfinished: bool = False) -> dict:
    """Fine-tune on `dataset` (a `synvid.data.registry` name) and run the multi-view test; returns DONE's dict."""
    run_dir = Path(out)
    if is_done(run_dir):
        return read_done(run_dir)
    if init != "scratch" and not Path(init).exists():
        raise MissingInput(f"--init checkpoint not found: {init}")
    source = common.upstream(init, run_dir, allow_unfinished=allow_unfinished)
    _, _, _, device = dist.init_distributed()
    record = registry.get(dataset)
    train, test_split = load_splits(dataset, data_root, cfg)
    extra = {"objective": upstream_objective(init), **(extra or {})}  # issue 16: carried from the pre-training
    config = to_dict(cfg, dataset=dataset, data_root=str(data_root), init=str(init),
                     num_classes=len(train.classes), **extra)
    common.check_resumable(run_dir, config, RESUME_FREE)
    digest = common.write_config(run_dir, config, RESUME_FREE)
    trainer = Finetuner(cfg, run_dir, train.items, len(train.classes), init, config, device)
    failures = FailureLog()
    steps = trainer.fit(failures, stop_after, progress)
    results = {"steps": steps, "total_steps": trainer.total_steps, "dataset": dataset, "classes": train.classes,
               **train_record(train, failures)}
    if steps < trainer.total_steps:
        return results
    segments = cfg.test_clips or record.test_clips
    test = test_dataset(test_split.items, cfg, num_segments=segments, missing=test_split.missing)
    results.update(evaluate(trainer.model, test, batch_size=max(trainer.per_rank // 2, 1), device=device,
                            num_workers=cfg.num_workers, bf16=cfg.bf16))
    results.update(views=f"{segments}x{cfg.test_crops}", config_hash=digest, upstream=source, seed=cfg.seed)
    common.finish(run_dir, results, {k: v for k, v in results.items() if k != "videos"})  # DONE last
    return results
