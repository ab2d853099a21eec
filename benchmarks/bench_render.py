"""Render throughput: on-the-fly clips/s on one CPU thread (numba path, the DataLoader workers'),
clips/s of the on-device pre-training batches on --device (`--render-device device`: synvid.data.batched, the path
training takes; CUDA target), and materialised videos/s (render + H.264). Prints best and median of --repeats."""
import argparse
import statistics
import tempfile
import time

import torch
from torch.utils.data import default_collate

from synvid import progression
from synvid.config import PretrainConfig, RenderConfig, TextureConfig, resolve
from synvid.engine.pretrain import build_dataset
from synvid.render.stream import SyntheticClips
from synvid.render.writer import materialise


def _rates(fn, n, repeats):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(n / (time.perf_counter() - t))
    return max(out), statistics.median(out)


def cpu_clips(name, clips, repeats):
    ds = SyntheticClips(name, epoch_size=10 ** 6)
    ds[0]                                                   # numba load / compile outside the timing
    state = {"i": 1}

    def run():
        for _ in range(clips):
            ds[state["i"]]
            state["i"] += 1
    return _rates(run, clips, repeats)


def device_batches(name, b, device, repeats):
    """Batches of b clips as pre-training builds them with render_device 'device' (paper settings: 16 frames at
    stride 4 rendered at 256^2, crop-resized to 224^2, normalised): DeviceBatches.batch on collated ClipPlans
    (it waits for the device itself). Also the rate of the host half alone (the ClipPlans that DataLoader
    workers draw in training). -> (best, median, host clips/s)."""
    cfg = resolve(PretrainConfig, "paper", render_device="device")
    data = build_dataset(cfg, dataset=name, synthetic=dict(cfg=RenderConfig()), device=device)
    drawn = iter(range(10 ** 9))

    def plans():
        return default_collate([data.plans[(0, next(drawn))] for _ in range(b)])
    data.batch(plans())                                     # warm-up (CUDA kernels, allocator)
    host_s = _rates(plans, b, 1)[0]
    batches = [plans() for _ in range(repeats)]
    return _rates(lambda: data.batch(batches.pop()), b, repeats) + (host_s,)


def materialise_textured(name, source, videos, pool, workers):
    """videos/s of a textured set read from a texture bank (the paper-scale route: bank first, then videos)."""
    from synvid.textures.banks import write_bank
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        write_bank(f"{d}/bank", source, pool, seed=0, size=TextureConfig.size, shard=max(pool // 4, 1))
        bank_s = time.perf_counter() - t
        t = time.perf_counter()
        materialise(name, videos, f"{d}/videos", seed=0, cfg=RenderConfig(), workers=workers,
                    tex_cfg=TextureConfig(pool_size=pool), bank=f"{d}/bank")
        return pool / bank_s, videos / (time.perf_counter() - t)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=8, help="clips per on-device batch (GPU: 256+)")
    p.add_argument("--videos", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--textured", default="accelerating_transforming_stylegan:stylegan",
                   help="NAME:SOURCE of the textured materialise figure ('' to skip)")
    p.add_argument("--pool", type=int, default=400, help="textures in the benchmark's bank")
    p.add_argument("--workers", type=int, default=1, help="processes for the textured materialise figure")
    a = p.parse_args()
    torch.set_num_threads(1)   # "per core" figure
    dev = torch.cuda.get_device_name() if torch.device(a.device).type == "cuda" else "cpu, 1 thread"
    for name in progression.NAMES[:5]:
        best, med = cpu_clips(name, a.clips, a.repeats)
        print(f"cpu     {name:34s} best {best:7.1f} median {med:7.1f} clips/s (16x4, 256^2, 500 shapes)")
    for name in progression.NAMES[:5]:
        best, med, host = device_batches(name, a.batch, a.device, a.repeats)
        print(f"device  {name:34s} best {best:7.1f} median {med:7.1f} clips/s on {dev} "
              f"(B={a.batch}, render + crop + normalise; ClipPlans alone {host:.0f} clips/s)")
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        materialise("accelerating_transforming_shapes", a.videos, d, seed=0, cfg=RenderConfig())
        print(f"materialise: {a.videos / (time.perf_counter() - t):.3f} videos/s (H.264, 100-200 frames, 256^2)")
    if a.textured:
        name, source = a.textured.split(":")
        tex_s, vid_s = materialise_textured(name, source, a.videos, a.pool, a.workers)
        print(f"textured bank: {tex_s:.1f} {source} textures/s; materialise {name} from it: {vid_s:.3f} videos/s "
              f"({a.workers} process(es), H.264, 100-200 frames, 256^2, pool {a.pool})")


if __name__ == "__main__":
    main()
