"""§5.3/§5.4: FID, FVD, diversity, spectrum and colour of datasets vs UCF101 (one results.json per dataset).

Example (smoke, no weights):
  python analysis/5_4_frame_properties.py --profile smoke --out runs/analysis/smoke \
      --datasets static_circles,moving_shapes --size 64 --stats spectrum,color \
      --reference data/toy_ucf101/ucfTrainTestlist/trainlist01.txt --video-root data/toy_ucf101/UCF-101
"""
import argparse
import json
from pathlib import Path

from synvid import config
from synvid.runs import atomic_write_json, mark_done
from synvid.stats.compute import Runner, check_weights, parse_stats


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    config.add_profile_argument(p)
    config.add_arguments(p, config.StatsConfig)
    p.add_argument("--out", required=True, help="run directory (results/<dataset>.json, features cache)")
    p.add_argument("--datasets", required=True, help="comma-separated synthetic names or list files")
    p.add_argument("--reference", required=True, help="UCF101 list file (`path label`) to compare against")
    p.add_argument("--video-root", default=None, help="folder the list paths are relative to (UCF-101/)")
    p.add_argument("--stats", default="spectrum,color,fid,fvd,diversity", help="subset of statistics")
    p.add_argument("--inception-weights", default="", help="pt_inception-2015-12-05-6726825d.pth")
    p.add_argument("--i3d-weights", default="", help="i3d_torchscript.pt (StyleGAN-V)")
    p.add_argument("--size", type=int, default=256, help="render size of synthetic frames")
    p.add_argument("--device", default="cpu")
    return p


def main(args):
    try:
        stats = parse_stats(args.stats)
        check_weights(stats, args.inception_weights, args.i3d_weights)  # before any expensive work
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}")
    cfg = config.from_args(config.StatsConfig, args)
    out = Path(args.out)
    config.save_config(out, cfg, stats=list(stats), datasets=args.datasets, reference=args.reference)
    runner = Runner(cfg, out / "cache", size=args.size, device=args.device,
                    inception_weights=args.inception_weights or None, i3d_weights=args.i3d_weights or None, root=args.video_root)
    results = {}
    for name in [d for d in args.datasets.split(",") if d]:
        res = runner.run(name, args.reference, stats)
        atomic_write_json(out / "results" / f"{Path(name).stem}.json", res)
        results[name] = res
        print(json.dumps(res))
    mark_done(out, results)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
