"""The one training loop of every run (issue 15); the run directory around it is synvid.runs.RunDir.

- `TrainLoop`: per-rank batch, steps per epoch, cosine schedule, AdamW, resume, the DDP/compile wrap and `fit`
  (logger, timer, finite-loss check, save cadence, stop signal). Pre-training (both objectives), fine-tuning with
  the finetune_aug probe, and the cached probe subclass it with their own model, `batches` and `step`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from synvid import dist
from synvid.engine import common
from synvid.errors import BadInput
from synvid.optim import build_adamw, cosine_schedule, scaled_lr


def cosine_lr(cfg, steps_per_epoch: int) -> np.ndarray:
    """Per-step lr (VM: lr and min_lr both scaled by total_batch / 256, linear warm-up from 0, then cosine)."""
    lr, min_lr = scaled_lr(cfg.base_lr, cfg.batch_size), scaled_lr(cfg.min_lr, cfg.batch_size)
    return cosine_schedule(lr, min_lr, cfg.epochs, steps_per_epoch, cfg.warmup_epochs)


class TrainLoop:
    """One training run's steps. A subclass calls `prepare(model, optimizer)` and defines `batches(stop)`: one dict
    of `step`'s keyword arguments per step from `self.start` (None for a step that every rank skips), and
    `step(**batch, step=)`: one optimisation step -> (loss averaged over ranks, the step's scheduled values)."""
    tensorboard = False

    def __init__(self, cfg, run_dir, config: dict, device, num_items: int, *, world: int | None = None):
        """`num_items` training clips or videos per epoch; `world`: processes sharing a batch (default all)."""
        self.cfg, self.run_dir, self.config, self.device = cfg, Path(run_dir), config, device
        self.world = dist.world_size() if world is None else world
        self.per_rank = common.per_rank_batch(cfg.batch_size, self.world)
        self.steps_per_epoch = num_items // cfg.batch_size  # the tail is dropped (VM drop_last, PROTOCOLS §2.2)
        if self.steps_per_epoch < 1:
            raise BadInput(f"{num_items} training videos are fewer than the total batch {cfg.batch_size}")
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.save_every, self.loss = cfg.save_every, float("nan")

    def adamw(self, groups) -> torch.optim.Optimizer:
        """AdamW over `groups`, starting at the first scheduled lr (self.lr)."""
        return build_adamw(groups, float(self.lr[0]), betas=(self.cfg.beta1, self.cfg.beta2))

    def prepare(self, model: torch.nn.Module, optimizer, *, wrap: bool = True) -> None:
        """Restore last.pth (self.start: the steps already done), then wrap the model for DDP (several processes)
        and torch.compile (cfg.compile) as `self.net`; checkpoints hold the unwrapped `self.model`."""
        self.model, self.optimizer, self.net = model, optimizer, model
        self.start = common.resume(self.run_dir, model=model, optimizer=optimizer)
        if wrap and self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if wrap and self.cfg.compile:
            self.net = torch.compile(self.net)

    def samples(self, batch: dict) -> int:
        """Clips a step trained on (StepTimer's clips/s)."""
        return self.cfg.batch_size

    def fit(self, stop_after: int | None = None, progress: bool = True) -> int:
        """Train from the resumed step to the end, or to `stop_after` steps in total; returns the step reached.
        last.pth is saved every `save_every` steps and at the stop; a stop signal (SLURM's warning) saves it at
        the step boundary and raises Preempted; a NaN/inf loss stops with the last good last.pth kept."""
        stop = self.total_steps if stop_after is None else min(stop_after, self.total_steps)
        log = common.RunLogger(self.run_dir, self.tensorboard, resume_step=self.start)
        bar = tqdm(total=self.total_steps, initial=self.start, disable=not (progress and dist.is_main()),
                   desc=type(self).__name__, dynamic_ncols=True)
        step, timer = self.start, common.StepTimer()
        self.net.train()
        with common.StopSignal() as signals:
            for batch in self.batches(stop):
                timer.data_ready()
                if batch is not None:
                    self.loss, scheduled = self.step(**batch, step=step)
                    common.check_finite(self.loss, step + 1, self.run_dir)
                    timer.step_done(self.samples(batch))
                    log.write(step + 1, epoch=step // self.steps_per_epoch, loss=self.loss, **scheduled,
                              **timer.stats())
                    bar.set_postfix(loss=f"{self.loss:.4f}", lr=f"{scheduled['lr']:.2e}")
                timer.reset()
                step += 1
                bar.update()
                preempted = signals.requested()
                if preempted or step % self.save_every == 0 or step == stop:
                    common.save(self.run_dir, model=self.model, optimizer=self.optimizer, step=step,
                                epoch=step // self.steps_per_epoch, config=self.config)
                if preempted:
                    raise common.Preempted(step, self.run_dir)
        bar.close()
        log.close()
        return step

