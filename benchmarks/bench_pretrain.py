"""Pre-training throughput: compute-only clips/s, MFU, peak memory, and end-to-end with the data-wait fraction.

The measured step is the engine's own `Trainer.train_step` (schedule, weight-decay groups, loss all-reduce included).
MFU = model FLOPs per second (counted with torch.utils.flop_counter on one step) / a bf16 matmul rate measured in
the same process (float32 on CPU). Not a test: prints figures.

    python benchmarks/bench_pretrain.py --batch 64 --compile --dataset moving_circles      # one H100
    python benchmarks/bench_pretrain.py --batch 64 --compile --dataset moving_circles --render-device device
    python benchmarks/bench_pretrain.py --tiny                                              # CPU sanity run
    python benchmarks/bench_pretrain.py --batch 64 --objective vjepa                         # one V-JEPA step

`--render-device device` renders the shape set on the training device batch by batch (synvid.data.batched), the
workers only drawing the per-clip plans; the render is counted as data wait, so "% of compute-only" is the
end-to-end figure (target >= 95%).
"""
import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torch.utils.flop_counter import FlopCounterMode

from synvid import dist
from synvid.config import PretrainConfig, RenderConfig, VjepaConfig, resolve
from synvid.engine.common import StepTimer
from synvid.engine import objectives
from synvid.engine.pretrain import Trainer, build_dataset


class Placeholder(Dataset):
    """A length only: the compute-only loop feeds one fixed random batch and never reads the dataset."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def matmul_rate(device) -> float:
    """Achieved FLOP/s of a large square matmul (bf16 on CUDA, float32 on CPU)."""
    n, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (1024, torch.float32)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps, t = 20 if device.type == "cuda" else 5, time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def batch(trainer, cfg):
    from synvid.models import tube_mask
    b = trainer.per_rank
    videos = torch.randn(b, 3, cfg.num_frames, cfg.input_size, cfg.input_size)
    return videos, tube_mask(b, trainer.model.window, cfg.mask_ratio)


def compute_only(trainer, cfg, steps, warmup):
    videos, mask = batch(trainer, cfg)
    videos, mask = videos.to(trainer.device), mask.to(trainer.device)
    for s in range(warmup):
        trainer.train_step({"videos": videos, "mask": mask}, s)
    with FlopCounterMode(display=False) as counter:
        trainer.train_step({"videos": videos, "mask": mask}, warmup)
    flops = counter.get_total_flops()
    sync(trainer.device)
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for s in range(steps):
        trainer.train_step({"videos": videos, "mask": mask}, warmup + 1 + s)
    sync(trainer.device)
    dt = time.perf_counter() - t
    return trainer.per_rank * steps / dt, flops * steps / dt


def end_to_end(trainer, cfg, steps, warmup):
    timer, wait, total, n = StepTimer(), 0.0, 0.0, 0
    for s, batch in enumerate(trainer.batches(trainer.start + steps + warmup)):
        timer.data_ready()
        trainer.train_step(batch, s)
        timer.step_done(trainer.per_rank)
        if s >= warmup:  # skip worker start-up
            wait, total, n = wait + timer.wait, total + timer.total, n + trainer.per_rank
        timer.reset()
    return n / total, wait / total


def render_only(trainer, reps):
    """clips/s of DeviceBatches.batch alone (render + crop + normalise on the device), one collated batch of plans
    re-rendered `reps` times after one warm-up: with compute-only, predicts the end-to-end rate."""
    plans = next(iter(trainer.loader(trainer.start + 1)))
    trainer.data.batch(plans)
    t = time.perf_counter()
    for _ in range(reps):
        trainer.data.batch(plans)   # synchronises on CUDA
    return trainer.per_rank * reps / (time.perf_counter() - t)


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="pretrain_videomae_base_patch16_224")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--grad-checkpointing", action="store_true")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--dataset", help="synthetic name for the end-to-end run (synvid.progression)")
    p.add_argument("--list", dest="list_file", help="list file for the end-to-end run")
    p.add_argument("--render-size", type=int, default=256)
    p.add_argument("--render-device", choices=("loader", "device"), default="loader",
                   help="end-to-end: render in the DataLoader workers or on the training device")
    p.add_argument("--tiny", action="store_true", help="tiny model, 4x32x32 clips, batch 4 (CPU sanity run)")
    p.add_argument("--objective", choices=("videomae", "vjepa"), default="videomae",
                   help="vjepa: masks drawn per step, target encoder on every token, predictor (VjepaConfig)")
    return p


def main(args):
    _, _, _, device = dist.init_distributed()
    over = dict(model=args.model, batch_size=args.batch, compile=args.compile, num_workers=args.workers,
                grad_checkpointing=args.grad_checkpointing, render_device=args.render_device,
                objective=args.objective)
    cfg = resolve(PretrainConfig, "smoke" if args.tiny else "paper", **over)
    vjepa = resolve(VjepaConfig, "smoke" if args.tiny else "paper")
    if args.tiny:
        cfg.model, cfg.batch_size = "pretrain_videomae_tiny_patch16_224", min(args.batch, 4)
    print(f"device: {torch.cuda.get_device_name() if device.type == 'cuda' else platform.machine() + ' CPU'} "
          f"({torch.get_num_threads()} threads) | torch {torch.__version__} | cuda {torch.version.cuda} | "
          f"python {platform.python_version()}")
    head = (f"mask {cfg.mask_ratio}, decoder depth {cfg.decoder_depth}" if args.objective == "videomae" else
            f"multi-block masks, predictor {vjepa.predictor_depth}x{vjepa.predictor_dim}")
    print(f"objective {args.objective}, model {cfg.model}, batch {cfg.batch_size}, "
          f"{cfg.num_frames}x{cfg.input_size}^2, {head}, bf16 {cfg.bf16 and device.type == 'cuda'}, "
          f"compile {cfg.compile}")
    peak = matmul_rate(device)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp), Placeholder(cfg.batch_size * 10_000), {}, device,
                          objectives.build(cfg, vjepa))
        clips, flops = compute_only(trainer, cfg, args.steps, args.warmup)
        mem = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else float("nan")
        print(f"matmul rate: {peak / 1e12:.2f} TFLOP/s ({'bf16' if device.type == 'cuda' else 'fp32'})")
        print(f"compute-only: {clips:.1f} clips/s, {flops / 1e12:.2f} TFLOP/s model, MFU {100 * flops / peak:.1f}%, "
              f"peak memory {mem:.2f} GiB")
        if args.dataset or args.list_file:
            long_epoch = dict(cfg=RenderConfig(num_videos=cfg.batch_size * 10_000))   # no epoch end in the run
            trainer.data = build_dataset(cfg, dataset=args.dataset, list_file=args.list_file,
                                         render_size=args.render_size, synthetic=long_epoch, device=device)
            if args.render_device == "device":
                print(f"render-only on {device}: {render_only(trainer, max(args.steps // 3, 1)):.1f} clips/s")
            e2e, wait = end_to_end(trainer, cfg, args.steps, args.warmup)
            where = f"rendered on {device}" if args.render_device == "device" else "loaded by the workers"
            print(f"end-to-end ({args.dataset or args.list_file}, {where}, {cfg.num_workers} workers, "
                  f"render size {args.render_size}): {e2e:.1f} clips/s "
                  f"({100 * e2e / clips:.1f}% of compute-only), data-wait fraction {100 * wait:.1f}%")
    dist.cleanup()


if __name__ == "__main__":
    main(get_args_parser().parse_args())
