"""Fine-tuning step and multi-view inference throughput (clips/s), and the decord loading rate of test views.

    python benchmarks/bench_finetune.py --model vit_base_patch16_224 --batch 32 --infer-batch 64   # GPU
    python benchmarks/bench_finetune.py --model vit_tiny_patch16_224 --frames 4 --size 32 --device cpu

The step includes drop path 0.2, mixup/cutmix, label smoothing and layer-decay AdamW, as in training.
"""
import argparse
import tempfile
import time


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="vit_base_patch16_224")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--infer-batch", type=int, default=64)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--device", default="cuda")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--videos", type=int, default=8, help="toy videos decoded for the data-loading rate")
    return p


def _rate(fn, steps, clips, device):
    import torch
    fn()  # warm-up (and compilation)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * clips / (time.perf_counter() - t)


def main(args):
    import torch

    from synvid.config import resolve, FinetuneConfig
    from synvid.data import toy
    from synvid.data.video_dataset import TestViews
    from synvid.engine.clip_training import AugmentedClipTraining
    from synvid.engine.common import autocast
    from synvid.engine.downstream import build_classifier
    from synvid.engine.losses import build_mixing
    device = torch.device(args.device)
    cfg = resolve(FinetuneConfig, "paper", model=args.model, num_frames=args.frames, input_size=args.size,
                  compile=args.compile, batch_size=args.batch, repeated_aug=1)
    trainer = AugmentedClipTraining.__new__(AugmentedClipTraining)  # only the model/optimizer/mixing parts of a run
    trainer.cfg, trainer.device, trainer.world, trainer.schedule = cfg, device, 1, {"lr": [1e-4] * (args.steps + 1)}
    trainer.model = build_classifier(cfg, 400, "scratch", device, print_fn=lambda *_: None)
    from synvid.optim import build_adamw, param_groups
    trainer.optimizer = build_adamw(param_groups(trainer.model, cfg.weight_decay, cfg.layer_decay), 1e-4,
                                    betas=(cfg.beta1, cfg.beta2))
    trainer.mix = build_mixing(cfg, 400)
    trainer.net = torch.compile(trainer.model) if args.compile else trainer.model
    clips = torch.randn(args.batch, 1, 3, args.frames, args.size, args.size)
    labels = torch.randint(0, 400, (args.batch,))
    train = _rate(lambda: trainer.train_step({"clips": clips, "labels": labels}, 0), args.steps, args.batch, device)
    views = torch.randn(args.infer_batch, 3, args.frames, args.size, args.size, device=device)
    trainer.net.eval()

    def infer():
        with torch.no_grad(), autocast(device, cfg.bf16):
            trainer.net(views).float().softmax(-1)
    infer_rate = _rate(infer, args.steps, args.infer_batch, device)
    with tempfile.TemporaryDirectory() as tmp:
        root = toy.make_toy_ucf101(tmp, num_classes=2, groups=args.videos // 4, clips_per_group=2, frames=64,
                                   height=240, width=320)
        items = [(str(p), 0) for p in sorted((root / "UCF-101").rglob("*.avi"))]
        data = TestViews(items, num_frames=args.frames, num_segments=5, size=args.size)
        t = time.perf_counter()
        for i in range(len(data)):
            data[i]
        load = len(data) * 15 / (time.perf_counter() - t)
    print(f"device {device} model {args.model} {args.frames}x{args.size}^2 torch {torch.__version__}")
    print(f"fine-tuning step: {train:.1f} clips/s at batch {args.batch}")
    print(f"multi-view inference: {infer_rate:.1f} clips/s at batch {args.infer_batch}")
    print(f"decord test-view loading (1 process, 320x240 mpeg4, 5x3 views): {load:.1f} views/s")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
