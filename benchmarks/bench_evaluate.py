"""Multi-view evaluation at the paper profile (16 x 224^2, 5 x 3 views): views/s through the real loader and
`synvid.engine.evaluate`, bytes per test item, peak host memory of the process and its loader workers (PSS: shared
pages counted once), and with --train-steps a fine-tuning phase first, for the peak device memory of both.

    python benchmarks/bench_evaluate.py --device cpu --model vit_tiny_patch16_224 --workers 2 --videos 8
    python benchmarks/bench_evaluate.py --device cuda --workers 8 --videos 32 --train-steps 10 --train-batch 32
"""
import argparse
import os
import tempfile
import threading
import time


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="vit_base_patch16_224")
    p.add_argument("--device", default="cuda")
    p.add_argument("--workers", type=int, default=8, help="DataLoader workers (the paper profile's 8)")
    p.add_argument("--videos", type=int, default=16, help="toy 320x240 test videos (UCF101's frame size)")
    p.add_argument("--batch", type=int, default=16, help="requested test batch (videos); the loader bound may lower it")
    p.add_argument("--train-steps", type=int, default=0, help="fine-tuning steps first (random clips)")
    p.add_argument("--train-batch", type=int, default=32, help="videos per step (x repeated_aug 2 clips)")
    return p


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in os.listdir(f"/proc/{p}/task") if os.path.isdir(f"/proc/{p}/task") else []:
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
    return out


class PeakHostMemory:
    """Samples the PSS of this process and its children (the loader workers) every 20 ms; `.peak` in bytes."""

    def __init__(self):
        self.base = self.now()        # before the loader starts: the process alone (torch, model, CUDA context)
        self.peak, self._stop = self.base, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        return 1024 * sum(_pss_kib(p) for p in _tree(os.getpid()))

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _finetune(model, cfg, device, steps: int, batch: int) -> float:
    """clips/s of `steps` fine-tuning steps on random clips (AdamW, mixup/cutmix, drop path, bf16 on CUDA)."""
    import torch

    from synvid.engine.clip_training import AugmentedClipTraining
    from synvid.engine.losses import build_mixing
    from synvid.optim import build_adamw, param_groups
    trainer = AugmentedClipTraining.__new__(AugmentedClipTraining)  # only the model/optimizer/mixing parts of a run
    trainer.cfg, trainer.device, trainer.model, trainer.net = cfg, device, model, model
    trainer.world, trainer.schedule = 1, {"lr": [1e-4] * steps}
    trainer.optimizer = build_adamw(param_groups(model, cfg.weight_decay, cfg.layer_decay), 1e-4,
                                    betas=(cfg.beta1, cfg.beta2))
    trainer.mix = build_mixing(cfg, 101)
    clips = torch.randn(batch, cfg.repeated_aug, 3, cfg.num_frames, cfg.input_size, cfg.input_size)
    labels = torch.randint(0, 101, (batch,))
    start = time.perf_counter()
    for step in range(steps):
        trainer.train_step({"clips": clips, "labels": labels}, step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch * cfg.repeated_aug / (time.perf_counter() - start)


def main(args):
    import torch

    from synvid.config import FinetuneConfig, resolve
    from synvid.data import toy
    from synvid.engine.downstream import build_classifier
    from synvid.engine.evaluate import evaluate, loader_batch_size, test_dataset
    device = torch.device(args.device)
    cfg = resolve(FinetuneConfig, "paper", model=args.model, num_workers=args.workers)
    model = build_classifier(cfg, 101, "scratch", device, print_fn=lambda *_: None)
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else os.cpu_count()} "
          f"{'GPU' if device.type == 'cuda' else 'CPU cores'}) model {args.model} torch {torch.__version__}")
    if args.train_steps:
        rate = _finetune(model, cfg, device, args.train_steps, args.train_batch)
        print(f"fine-tuning: {rate:.1f} clips/s at {args.train_batch} videos x {cfg.repeated_aug} clips per step")
        if device.type == "cuda":
            print(f"fine-tuning peak device memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
            torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        root = toy.make_toy_ucf101(tmp, num_classes=2, groups=max(args.videos // 4, 1), clips_per_group=2,
                                   frames=120, height=240, width=320, test_groups=max(args.videos // 4, 1))
        items = [(str(p), 0) for p in sorted((root / "UCF-101").rglob("*.avi"))]
        data = test_dataset(items, cfg, num_segments=5)
        batch = loader_batch_size(args.batch, data.item_bytes(), args.workers)
        with PeakHostMemory() as host:
            start = time.perf_counter()
            evaluate(model, data, batch_size=args.batch, device=device, num_workers=args.workers, bf16=cfg.bf16,
                     print_fn=lambda *_: None)
            seconds = time.perf_counter() - start
    views = len(items) * 15
    print(f"test item: {data.item_bytes() / 1e6:.1f} MB (uint8, 15 views of 16x224^2); loader batch {batch} videos "
          f"with {args.workers} workers")
    print(f"evaluation: {views / seconds:.1f} views/s ({len(items)} videos, 5x3 views, loader included)")
    loader = (host.peak - host.base) / 2**30
    print(f"evaluation peak host memory (PSS, process + workers): {host.peak / 2**30:.2f} GiB, of which the loader "
          f"(above the {host.base / 2**30:.2f} GiB process before it started): {loader:.2f} GiB")
    if device.type == "cuda":
        print(f"evaluation peak device memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
