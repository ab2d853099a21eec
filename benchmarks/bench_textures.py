"""Textures/s of the generated sources (CPU or CUDA) through synvid.textures, and StyleGAN batch sizes.

    python benchmarks/bench_textures.py --size 256 --num 8 --device cpu --batches 1 2 4 8
    python benchmarks/bench_textures.py --size 256 --num 256 --device cuda --batches 1 8 32 64
    python benchmarks/bench_textures.py --sources --stats 128 --seed 7        # TEXTURES.md §5 statistics
`--batches` times StyleGAN-Oriented with that many textures per forward (1 = one by one); `--stats N`
measures the §5 statistics of N StyleGAN-Oriented textures (synvid.textures.measure).
"""
import argparse
import time

import torch


def timed(fn, device: str) -> float:
    """Seconds of fn(), synchronising CUDA around it."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--num", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sources", nargs="*", default=["statistical", "stylegan", "stylegan_highfreq"])
    parser.add_argument("--batches", nargs="*", type=int, default=[], help="StyleGAN textures per forward")
    parser.add_argument("--stats", type=int, default=0, help="TEXTURES.md §5 statistics of N StyleGAN textures")
    parser.add_argument("--stats-source", default="stylegan")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from synvid.textures import measure, stylegan
    from synvid.textures.generated import generate
    where = f"size {args.size} device {args.device} torch threads {torch.get_num_threads()}"
    for source in args.sources:
        generate(source, 1, size=args.size, device=args.device)          # warm-up (filter caches)
        dt = timed(lambda: generate(source, args.num, seed=1, size=args.size, device=args.device), args.device)
        print(f"{source:18s} {where}: {args.num / dt:.2f} textures/s ({dt / args.num * 1000:.0f} ms/texture)")
    for batch in args.batches:
        dt = timed(lambda: stylegan.generate(range(args.num), seed=1, size=args.size, device=args.device,
                                             batch=batch), args.device)
        print(f"stylegan batch {batch:3d}  {where}: {args.num / dt:.2f} textures/s")
    if args.stats:
        images = generate(args.stats_source, args.stats, seed=args.seed, size=args.size, device=args.device)
        for key, value in measure.summary(images.cpu().numpy()).items():
            print(f"{args.stats_source} seed {args.seed} size {args.size}: {key} = {_fmt(value)}")


def _fmt(value) -> str:
    return str([round(v, 3) for v in value]) if isinstance(value, list) else f"{value:.3f}"


if __name__ == "__main__":
    main()
