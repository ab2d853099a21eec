"""Seconds per video for each UCF101-P corruption on CPU (a UCF101-sized clip: 240x320, ~150 frames by default).

    python benchmarks/bench_corruptions.py --frames 150 --severity 3 --threads 2
"""
import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--names", nargs="+", default=None)
    args = parser.parse_args()
    from synvid import corruptions
    if args.threads:
        torch.set_num_threads(args.threads)
    video = torch.randint(0, 256, (args.frames, args.height, args.width, 3), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    print(f"{args.frames}x{args.height}x{args.width}, severity {args.severity}, {torch.get_num_threads()} threads")
    for name in args.names or corruptions.NAMES:
        start = time.perf_counter()
        corruptions.apply(name, video, args.severity, seed=0)
        print(f"{name:16s} {time.perf_counter() - start:8.2f} s/video")


if __name__ == "__main__":
    main()
