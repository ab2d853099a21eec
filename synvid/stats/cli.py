"""Shared command line of the §5.3 (FID/FVD) and §5.4 (diversity/spectrum/colour) entry points, so the two
numbered scripts differ only in their default `--stats` (one results/<dataset>.json per dataset)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from synvid import config
from synvid.runs import RunDir, atomic_write_json
from synvid.stats.compute import Runner, check_weights, parse_stats


def get_args_parser(doc: str, default_stats: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    config.add_profile_argument(p)
    config.add_arguments(p, config.StatsConfig)
    p.add_argument("--out", required=True, help="run directory (results/<dataset>.json, features cache)")
    p.add_argument("--datasets", required=True, help="comma-separated synthetic names or list files")
    p.add_argument("--reference", required=True, help="UCF101 list file (`path label`) to compare against")
    p.add_argument("--video-root", default=None, help="folder the list paths are relative to (UCF-101/)")
    p.add_argument("--stats", default=default_stats, help="subset of spectrum,color,fid,fvd,diversity")
    p.add_argument("--inception-weights", default="", help="pt_inception-2015-12-05-6726825d.pth")
    p.add_argument("--i3d-weights", default="", help="i3d_torchscript.pt (StyleGAN-V)")
    p.add_argument("--size", type=int, default=None, help="render size of synthetic frames (default: the profile's)")
    p.add_argument("--imagenet", default="", help="ImageFolder root for the image-crop sets")
    p.add_argument("--device", default="cpu")
    return p


def main(args) -> dict:
    stats = parse_stats(args.stats)
    check_weights(stats, args.inception_weights, args.i3d_weights)  # before any expensive work
    cfg, _ = config.settings(config.StatsConfig, args.profile, flags=args)
    render = config.resolve(config.RenderConfig, args.profile)
    size = args.size or render.size
    synthetic = dict(cfg=render, tex_cfg=config.resolve(config.TextureConfig, args.profile), imagenet=args.imagenet)
    pretrain = config.resolve(config.PretrainConfig, args.profile)    # diversity samples its clips
    out = Path(args.out)
    record = config.to_dict(cfg, stats=list(stats), datasets=args.datasets, reference=args.reference,
                            profile=args.profile, diversity_clip={"num_frames": pretrain.num_frames,
                                                                  "sampling_rate": pretrain.sampling_rate})
    # 5_3 (fid,fvd) and 5_4 (the rest) share one --out, and --ablations adds datasets to it: the folder merges them
    with RunDir(out, record, free={"stats", "datasets"}, redo=True) as run:
        runner = Runner(cfg, out / "cache", size=size, device=args.device, synthetic=synthetic, pretrain=pretrain,
                        inception_weights=args.inception_weights or None, i3d_weights=args.i3d_weights or None,
                        root=args.video_root)
        results = {}
        for name in [d for d in args.datasets.split(",") if d]:
            path = out / "results" / f"{Path(name).stem}.json"
            # merge: neither script erases the other's numbers
            old = json.loads(path.read_text()) if path.exists() else {}
            res = {**old, **runner.run(name, args.reference, stats)}
            atomic_write_json(path, res)
            results[name] = res
            print(json.dumps(res))
        run.finish(results)
    return results
