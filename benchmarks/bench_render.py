"""Render throughput: SyntheticClips clips/s on one CPU thread per dataset, and materialise videos/s."""
import argparse
import tempfile
import time

import torch

from synvid import progression
from synvid.config import RenderConfig
from synvid.render.writer import materialise


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clips", type=int, default=3)
    p.add_argument("--videos", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args()
    torch.set_num_threads(1)   # "per core" figure
    for name in progression.NAMES[:5]:
        ds = progression.SyntheticClips(name, epoch_size=a.clips)
        t = time.perf_counter()
        for i in range(a.clips):
            ds[i]
        print(f"{name:40s} {a.clips / (time.perf_counter() - t):7.2f} clips/s (16x4, 256^2, 500 shapes, cpu)")
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        materialise("accelerating_transforming_shapes", a.videos, d, seed=0, cfg=RenderConfig())
        print(f"materialise: {a.videos / (time.perf_counter() - t):.3f} videos/s (H.264, 100-200 frames)")


if __name__ == "__main__":
    main()
