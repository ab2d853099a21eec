"""Training-loop pieces shared by pre-training, fine-tuning and linear probing (assembled in synvid/engine/loop.py).

- `resume` / `save`: `last.pth` with model, optimizer, scaler, step and RNG state (atomic, via synvid.checkpoint);
- `check_finite`: stop on a NaN/inf loss with a clear message, leaving the last good checkpoint untouched;
- `RunLogger`: JSON lines (rank 0) plus optional TensorBoard;
- `StepTimer`: clips/s and the fraction of wall time spent waiting for data;
- `StopSignal`: SIGTERM/SIGUSR1 (SLURM's warning before a time limit or preemption) stop the run at the next
  step boundary with last.pth saved and exit code `PREEMPTED_EXIT`; rerunning the command resumes exactly;
- `seed_rank` / `seed_step`: per-rank and per-step randomness (exact resume);
- `autocast`, `per_rank_batch` helpers.
"""
from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch

from synvid import dist
from synvid.checkpoint import load_checkpoint, save_checkpoint, unwrap
from synvid.data.sampling import keyed_seed
from synvid.errors import BadInput, NonFiniteLossError
from synvid.runs import LAST, JsonlLog

PREEMPTED_EXIT = 75   # EX_TEMPFAIL: stopped by a signal with last.pth saved (scripts/slurm_job.sh requeues on it)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


def per_rank_batch(total_batch: int, world_size: int) -> int:
    """Total batch = per-rank batch x world size (PROTOCOLS §2.2); refuse a total that does not divide."""
    if total_batch < world_size or total_batch % world_size:
        raise BadInput(f"total batch {total_batch} is not divisible by the number of processes {world_size}")
    return total_batch // world_size


def check_finite(loss: float, step: int, run_dir: str | Path) -> None:
    if not np.isfinite(loss):
        last = Path(run_dir) / LAST
        kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was saved yet"
        raise NonFiniteLossError(f"loss is {loss} at step {step}; stopping ({kept}). Lower the learning rate, "
                                 f"enable --clip-grad, or check the data, then rerun the same command to resume.")


class Preempted(SystemExit):
    """Raised at a step boundary after a stop signal, once last.pth is saved; exits with PREEMPTED_EXIT."""

    def __init__(self, step: int, run_dir: str | Path):
        super().__init__(PREEMPTED_EXIT)
        self.step, self.run_dir = step, run_dir

    def __str__(self) -> str:
        return f"stopped by a signal at step {self.step}; {Path(self.run_dir) / LAST} saved, rerun to resume"


class StopSignal:
    """Context manager: SIGTERM/SIGUSR1 only set a flag (a save in the middle of a step would be inconsistent);
    the training loop asks `requested()` at each step boundary, then saves and raises Preempted. With several ranks
    the flag is OR-ed over all of them, so every rank stops at the same step even if one alone got the signal."""

    def __init__(self):
        self.received, self._previous = False, {}

    def _handle(self, signum, frame) -> None:
        self.received = True

    def __enter__(self) -> "StopSignal":
        if threading.current_thread() is threading.main_thread():   # handlers can only be set there
            self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def requested(self) -> bool:
        if dist.world_size() == 1:
            return self.received
        return dist.all_reduce_mean(float(self.received)) > 0


def rng_state() -> dict:
    """All RNG states as weights_only-loadable tensors/ints."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]) + [random.getstate()[2] or 0],
             "numpy": torch.from_numpy(np_state[1].astype(np.int64)), "numpy_pos": int(np_state[2])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((3, tuple(int(v) for v in py[:-1]), None))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_rank(seed: int) -> None:
    """After every rank has built the same model from `seed`: seed + rank for torch, NumPy and Python, so that
    nothing drawn from the global generators afterwards repeats across ranks."""
    torch.manual_seed(seed + dist.rank())
    np.random.seed(seed + dist.rank())
    random.seed(seed + dist.rank())


STEP_STREAM = 5  # distinguishes step keys from the sample streams of synvid.data (1-4)


def seed_step(seed: int, step: int) -> None:
    """Seed the global torch generator (CPU and every CUDA device) from (seed, step, rank) before a training step.
    MixUp/CutMix, classifier dropout and drop path draw from it, so each rank draws its own numbers and a run
    resumed at any step draws exactly those of the uninterrupted run (no RNG state has to survive a SIGKILL)."""
    torch.manual_seed(keyed_seed(seed, step, dist.rank(), STEP_STREAM))


def save(run_dir: str | Path, *, model, optimizer, step: int, epoch: int, config: dict, scaler=None,
         name: str = LAST) -> Path | None:
    """Rank 0 writes `run_dir/name` atomically (unwrapped model, plain dict); a failed save stops every rank
    with its error (dist.on_main), instead of leaving the others at a barrier."""
    path = Path(run_dir) / name
    dist.on_main(save_checkpoint, path, model=model, optimizer=optimizer, scaler=scaler, step=step, epoch=epoch,
                 config=config, rng=rng_state())
    return path


def resume(run_dir: str | Path, *, model, optimizer, scaler=None) -> int:
    """Restore `run_dir/last.pth` if present; returns the number of steps already done (0 for a fresh run)."""
    path = Path(run_dir) / LAST
    if not path.exists():
        return 0
    ckpt = load_checkpoint(path)
    unwrap(model).load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    if scaler is not None and "scaler" in ckpt:
        scaler.load_state_dict(ckpt["scaler"])
    if "rng" in ckpt:
        set_rng_state(ckpt["rng"])
    return int(ckpt["step"])


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast on CUDA (no GradScaler needed); plain float32 elsewhere."""
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class StepTimer:
    """Wall time split into waiting for the next batch and computing on it, over a logging window."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.wait = self.total = 0.0
        self.samples = 0
        self._t = time.perf_counter()

    def data_ready(self) -> None:
        self.wait += time.perf_counter() - self._t

    def step_done(self, samples: int) -> None:
        now = time.perf_counter()
        self.total += now - self._t
        self.samples += samples
        self._t = now

    def stats(self) -> dict:
        total = max(self.total, 1e-9)
        return {"clips_per_s": self.samples / total, "data_wait": self.wait / total}


class RunLogger:
    """JSON-lines log (`log.jsonl`) and optional TensorBoard, written by rank 0 only."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = False, resume_step: int | None = None):
        self.main = dist.is_main()
        self.log = JsonlLog(Path(run_dir) / "log.jsonl")
        self.tb = None
        if self.main and resume_step is not None:
            self.log.truncate_after("step", resume_step)  # drop records newer than the restored checkpoint
        if self.main and tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(str(Path(run_dir) / "tb"))

    def write(self, step: int, **record) -> None:
        if not self.main:
            return
        self.log.write(step=step, **record)
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()

