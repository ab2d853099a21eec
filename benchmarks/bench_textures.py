"""Textures/s of the generated sources (CPU or CUDA), batched through synvid.textures.generate.

    python benchmarks/bench_textures.py --size 256 --num 4 --device cpu
"""
import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--num", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sources", nargs="+", default=["statistical", "stylegan", "stylegan_highfreq"])
    args = parser.parse_args()
    from synvid.textures import generate
    for source in args.sources:
        generate(source, 1, size=args.size, device=args.device)          # warm-up (filter caches)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        generate(source, args.num, seed=1, size=args.size, device=args.device)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        print(f"{source:18s} size {args.size} device {args.device}: {args.num / dt:.2f} textures/s "
              f"({dt / args.num * 1000:.0f} ms/texture, torch threads {torch.get_num_threads()})")


if __name__ == "__main__":
    main()
