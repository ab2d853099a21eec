"""Supervised fine-tuning and the final multi-view test (Section 4.1, Table 6, PROTOCOLS.md §2.3-2.4;
VM `run_class_finetuning.py`, `engine_for_finetuning.py`), one DDP code path under torchrun (loop.TrainLoop).

Run directory: config.json (first), log.jsonl, last.pth (atomic, every `save_every` steps and at the end),
results.json (top-1/top-5 + per-video scores) and DONE (last). Rerunning resumes from last.pth.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Sampler
from torchvision import tv_tensors
from torchvision.transforms import v2

from synvid import dist, inits, models
from synvid.checkpoint import PRETRAIN_TO_CLASSIFIER, load_pretrained
from synvid.config import FinetuneConfig, to_dict
from synvid.data import registry
from synvid.data.video_dataset import FailureLog, TrainClips, collate
from synvid.engine import common, loop
from synvid.engine.evaluate import evaluate, test_dataset
from synvid.errors import BadInput, VideoReadError
from synvid.optim import param_groups
from synvid.runs import RunDir, atomic_write_json

RESUME_FREE = {"num_workers", "save_every", "compile", "strict", "allow_missing", "cache_decoded"}


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
        mixed, target = mixer(tv_tensors.Video(videos), labels)
        target = target * (1.0 - cfg.label_smoothing) + cfg.label_smoothing / num_classes  # linear: = timm order
        return mixed.as_subclass(torch.Tensor), target
    return apply


def build_model(cfg, num_classes: int, weights: str | Path | None, device, print_fn=print) -> torch.nn.Module:
    """Classifier for `num_classes`; `weights` = None or "scratch" for a fresh one, else a weights file (ours,
    official VideoMAE or V-JEPA, HF: `inits.resolve(--init).weights`)."""
    torch.manual_seed(cfg.seed)
    model = models.build(cfg.model, num_classes=num_classes, num_frames=cfg.num_frames, img_size=cfg.input_size,
                  drop_path=cfg.drop_path, dropout=cfg.dropout)
    if weights not in (None, "scratch"):
        info = load_pretrained(model, weights, **PRETRAIN_TO_CLASSIFIER)
        print_fn(f"loaded {weights} ({info['layout']} layout); fresh: {info['missing']}")
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


class Finetuner(loop.TrainLoop):
    """Model, optimizer, data and schedule of one fine-tuning run (or finetune_aug probe); the loop is
    loop.TrainLoop's. `failures`: the training videos found unreadable."""

    def __init__(self, cfg: FinetuneConfig, run_dir: Path, train_items, num_classes: int, weights, config, device,
                 model: torch.nn.Module | None = None):
        """`weights`: as build_model's; `model` (optional) replaces the classifier built from them, e.g. the
        linear probe's frozen encoder."""
        # never raises in a worker (one rank stopping alone would leave the others in a collective):
        # cfg.strict is enforced by `agree`, on every rank at once
        data = TrainClips(train_items, cfg, seed=cfg.seed, strict=False, cache_decoded=cfg.cache_decoded)
        if cfg.cache_decoded and cfg.num_workers > 0:
            data.fill_cache()   # here, once: each epoch's workers fork from this process and share the frames
        super().__init__(cfg, run_dir, config, device, len(data))
        self.data, self.failures = data, FailureLog()
        self.lr = loop.cosine_lr(cfg, self.steps_per_epoch)
        model = model if model is not None else build_model(cfg, num_classes, weights, device)
        self.prepare(model, self.adamw(param_groups(model, cfg.weight_decay, cfg.layer_decay)))  # PROTOCOLS §2.3
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
        """{clips, labels, weight} per step up to `stop`, epoch by epoch; None for a step every rank skips (a rank
        whose videos were all unreadable: skipped, not replaced)."""
        step = self.start
        while step < stop:
            for fields, failed in self.loader(step // self.steps_per_epoch, step % self.steps_per_epoch):
                self.failures.add(failed)
                size = 0 if fields is None else int(fields[0].shape[0])
                weight = agree(size, failed, strict=self.cfg.strict, min_size=self.min_videos)
                yield None if weight is None else {"clips": fields[0], "labels": fields[1], "weight": weight}
                step += 1
                if step >= stop:
                    return

    def samples(self, batch: dict) -> int:
        return batch["clips"].shape[0] * batch["clips"].shape[1] * self.world

    def step(self, clips: torch.Tensor, labels: torch.Tensor, step: int, weight: float = 1.0) -> tuple[float, dict]:
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
        return dist.all_reduce_mean(loss.detach()), {"lr": lr}


class DownstreamRun:
    """The inputs of a fine-tune or probe, checked before its run directory (synvid.runs.RunDir) is opened: `init`
    resolves (`source`, synvid.inits: it exists, its weights are readable, its run is finished); the train and test
    splits load (the test split strict unless cfg.allow_missing) and list the same classes; `settings`: what the run
    records beside its config sections (the upstream's objective among them)."""

    def __init__(self, cfg: FinetuneConfig, *, dataset: str, data_root, init: str, allow_unfinished: bool, device):
        self.device = device
        self.source = inits.resolve(init, allow_unfinished=allow_unfinished)
        self.segments = cfg.test_clips or registry.get(dataset).test_clips
        self.train = registry.load_split(dataset, data_root, "train", cfg.split)
        self.test = registry.load_split(dataset, data_root, "test", cfg.split, allow_missing=cfg.allow_missing)
        if self.test.classes != self.train.classes:
            raise BadInput(f"{dataset}: train and test splits list different classes")
        self.settings = dict(dataset=dataset, data_root=str(data_root), init=str(init), num_classes=len(
            self.train.classes), objective=self.source.objective)   # issue 16: carried from the pre-training

    def end(self, run_dir: RunDir, model, cfg: FinetuneConfig, results: dict, failures: FailureLog, *,
            batch_size: int, **record) -> dict:
        """Record the training-split skips (unreadable videos of every rank, listed ones not on disk); a finished
        training then gets the multi-view test of `model`, results.json, and DONE last (the results without the
        per-video scores). Returns the results."""
        failures.summary()   # prints this rank's skips
        names = sorted({n for part in dist.all_gather_objects(failures.names) for n in part})
        results.update(train_skipped_videos=len(names), train_skipped_names=names, train_listed=self.train.listed,
                       train_missing=[Path(m).name for m in self.train.missing])
        if results["steps"] < results["total_steps"]:
            return results
        test = test_dataset(self.test.items, cfg, num_segments=self.segments, missing=self.test.missing)
        results.update(evaluate(model, test, batch_size=batch_size, device=self.device,
                                num_workers=cfg.num_workers, bf16=cfg.bf16))
        results.update(views=f"{self.segments}x{cfg.test_crops}", config_hash=run_dir.config_hash,
                       upstream=self.source.record(run_dir.path), seed=cfg.seed, **record)
        dist.on_main(atomic_write_json, run_dir.path / "results.json", results)
        run_dir.finish({k: v for k, v in results.items() if k != "videos"})
        return results


def run(cfg: FinetuneConfig, out: str | Path, *, dataset: str, data_root: str | Path, init: str = "scratch",
        stop_after: int | None = None, progress: bool = True, extra: dict | None = None,
        allow_unfinished: bool = False) -> dict:
    """Fine-tune on `dataset` (a `synvid.data.registry` name) and run the multi-view test; returns DONE's dict."""
    device = dist.init_distributed()[3]   # the process group of a torchrun launch (once: a no-op if joined)
    inputs = DownstreamRun(cfg, dataset=dataset, data_root=data_root, init=init, allow_unfinished=allow_unfinished,
                           device=device)
    classes = inputs.train.classes
    config = to_dict(cfg, **{**inputs.settings, **(extra or {})})
    with RunDir(out, config, free=RESUME_FREE, launch={"world_size": dist.world_size()}) as run_dir:
        if run_dir.done is not None:
            return run_dir.done
        trainer = Finetuner(cfg, run_dir.path, inputs.train.items, len(classes), inputs.source.weights, config,
                            device)
        results = {"steps": trainer.fit(stop_after, progress), "total_steps": trainer.total_steps,
                   "dataset": dataset, "classes": classes}
        return inputs.end(run_dir, trainer.model, cfg, results, trainer.failures,
                          batch_size=max(trainer.per_rank // 2, 1))
