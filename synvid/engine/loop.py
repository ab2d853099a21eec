"""The one training loop of every run; the run directory around it is synvid.runs.RunDir.

- `TrainLoop`: per-rank batch, steps per epoch, AdamW, resume, the DDP/compile wrap, the one step body
  (`train_step`) and `fit` around it (logger, timer, finite-loss check, save cadence, stop signal). Pre-training
  (both objectives), supervised training on augmented clips (fine-tuning, the finetune_aug probe) and the cached
  probe subclass it with their own model, schedule, `batches` and `loss`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from synvid import dist
from synvid.engine import common
from synvid.errors import BadInput, ShortDataError
from synvid.optim import apply_schedule, build_adamw, cosine_schedule, scaled_lr


def cosine_lr(cfg, steps_per_epoch: int) -> np.ndarray:
    """Per-step lr (VM: lr and min_lr both scaled by total_batch / 256, linear warm-up from 0, then cosine)."""
    lr, min_lr = scaled_lr(cfg.base_lr, cfg.batch_size), scaled_lr(cfg.min_lr, cfg.batch_size)
    return cosine_schedule(lr, min_lr, cfg.epochs, steps_per_epoch, cfg.warmup_epochs)


class TrainLoop:
    """One training run's steps. A subclass calls `prepare(model, groups, schedule, betas=)` once and defines
    `batches(stop)`: a generator of one dict of `loss`'s keyword arguments per step from `self.start` up to `stop`
    (None for a step that every rank skips), and `loss(**batch, step=)`: this rank's loss tensor of the step. It
    may add `clip_gradients(step)` and `after_step(step)`; the step itself is `train_step`'s, written once."""
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
        self.save_every, self.last_loss = cfg.save_every, float("nan")

    def prepare(self, model: torch.nn.Module, groups: list[dict], schedule: dict[str, np.ndarray], *,
                betas: tuple[float, float], wrap: bool = True) -> None:
        """AdamW over `groups` (starting at the first scheduled lr); `schedule`: per-step values by name, "lr"
        first and "weight_decay" if scheduled, applied before each step and logged. Then restore last.pth
        (self.start: the steps already done) and wrap the model for DDP (several processes) and torch.compile
        (cfg.compile) as `self.net`; checkpoints hold the unwrapped `self.model`."""
        short = {name: len(values) for name, values in schedule.items() if len(values) != self.total_steps}
        if short:
            raise BadInput(f"schedules {short} do not cover the run's {self.total_steps} steps")
        self.schedule = schedule
        self.optimizer = build_adamw(groups, float(schedule["lr"][0]), betas=betas)
        self.model, self.net = model, model
        self.start = common.resume(self.run_dir, model=model, optimizer=self.optimizer)
        if wrap and self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if wrap and self.cfg.compile:
            self.net = torch.compile(self.net)

    def batches(self, stop: int):
        """A generator of `loss`'s keyword arguments, one dict (or None: every rank skips it) per step from
        `self.start` on; `fit` takes stop - start of them."""
        raise NotImplementedError

    def loss(self, *, step: int, **batch) -> torch.Tensor:
        """This rank's loss of one batch (under autocast), before the backward pass."""
        raise NotImplementedError

    def epochs(self, stop: int):
        """(epoch, steps of it already done) for each epoch from the resumed step's to the one that holds step
        `stop` - 1: where an engine whose data is ordered per epoch starts each epoch's batches."""
        first, done = divmod(self.start, self.steps_per_epoch)
        for epoch in range(first, -(-stop // self.steps_per_epoch)):
            yield epoch, done if epoch == first else 0

    def clip_gradients(self, step: int) -> None:
        """Between backward and the optimiser step (none by default)."""

    def after_step(self, step: int) -> None:
        """After the optimiser step, e.g. an EMA update (none by default)."""

    def samples(self, batch: dict) -> int:
        """Clips a step trained on (StepTimer's clips/s)."""
        return self.cfg.batch_size

    def train_step(self, batch: dict, step: int) -> tuple[float, dict]:
        """One optimisation step on `batch` -> (loss averaged over the processes sharing the batch, the step's
        scheduled values)."""
        scheduled = {name: float(values[step]) for name, values in self.schedule.items()}
        apply_schedule(self.optimizer, scheduled["lr"], weight_decay=scheduled.get("weight_decay"))
        with common.autocast(self.device, self.cfg.bf16):
            loss = self.loss(**batch, step=step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.clip_gradients(step)
        self.optimizer.step()
        self.after_step(step)
        loss = loss.detach()
        return (dist.all_reduce_mean(loss) if self.world > 1 else float(loss)), scheduled

    def fit(self, stop_after: int | None = None, progress: bool = True) -> int:
        """Train from the resumed step to the end, or to `stop_after` steps in total; returns the step reached.
        last.pth is saved every `save_every` steps and at the stop; a stop signal (SLURM's warning) saves it at
        the step boundary and raises Preempted; a NaN/inf loss stops with the last good last.pth kept; batches
        that end before `stop` raise ShortDataError. The progress bar and the log close whatever happens."""
        stop = self.total_steps if stop_after is None else min(stop_after, self.total_steps)
        log = common.RunLogger(self.run_dir, self.tensorboard, resume_step=self.start)
        bar = tqdm(total=self.total_steps, initial=self.start, disable=not (progress and dist.is_main()),
                   desc=type(self).__name__, dynamic_ncols=True)
        batches, timer = self.batches(stop), common.StepTimer()
        self.net.train()
        try:
            with common.StopSignal() as signals:
                for step in range(self.start, stop):
                    batch = next(batches, END)
                    if batch is END:
                        raise ShortDataError(f"{type(self).__name__}: the batches ended at step {step} of "
                                             f"{stop}; {self.run_dir} is left unfinished")
                    timer.data_ready()
                    if batch is not None:
                        self.last_loss, scheduled = self.train_step(batch, step)
                        common.check_finite(self.last_loss, step + 1, self.run_dir)
                        timer.step_done(self.samples(batch))
                        log.write(step + 1, epoch=step // self.steps_per_epoch, loss=self.last_loss, **scheduled,
                                  **timer.stats())
                        bar.set_postfix(loss=f"{self.last_loss:.4f}", lr=f"{scheduled['lr']:.2e}")
                    timer.reset()
                    bar.update()
                    self.end_of_step(step + 1, stop, signals.requested())
        finally:
            batches.close()
            bar.close()
            log.close()
        return max(stop, self.start)

    def end_of_step(self, done: int, stop: int, preempted: bool) -> None:
        """last.pth every `save_every` steps, at the stop and on a stop signal, which then raises Preempted."""
        if preempted or done % self.save_every == 0 or done == stop:
            common.save(self.run_dir, model=self.model, optimizer=self.optimizer, step=done,
                        epoch=done // self.steps_per_epoch, config=self.config)
        if preempted:
            raise common.Preempted(done, self.run_dir)


END = object()   # what next() returns once `batches` is exhausted
