"""Write UCF101-P as files (paper Section 4.2, Figure 3; PROTOCOLS.md §4.4-4.5): one ordinary UCF101 root per
(corruption, severity) under <out>/<name>_<s>/, and <out>/manifest.json naming the clean source.

--mode benchmark (paper profile): the 13 UCF101-P sets as the benchmark's generator writes them (full resolution,
  an mp4v re-encode; the codecs as FFmpeg's own files). --mode hook (authors profile): only the two codecs; the
  other corruptions act on each test view at evaluation time. Every severity of --severities (default 1-5).
Resumable; deterministic given --seed.

    python data_gen/4_2_make_ucf101p.py --data-root data/UCF101 --out data/ucf101p
"""
import argparse


def get_args_parser() -> argparse.ArgumentParser:
    from synvid.config import FinetuneConfig, RobustnessConfig, add_arguments, add_profile_argument
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    parser.add_argument("--data-root", required=True, help="UCF101 root (UCF-101/ and ucfTrainTestlist/)")
    parser.add_argument("--out", required=True, help="UCF101-P root to write")
    parser.add_argument("--names", nargs="+", default=None, help="corruptions to write (default: all of the mode)")
    parser.add_argument("--split", type=int, default=FinetuneConfig.split, help="test split (default: the paper's)")
    parser.add_argument("--no-progress", action="store_true")
    add_arguments(parser, RobustnessConfig)
    return parser


def main(args: argparse.Namespace) -> dict:
    from synvid.config import RobustnessConfig, from_args, save_config
    from synvid.runs import mark_done
    from synvid.ucf101p_files import (check_resume, check_settings, check_tree_names, make_ucf101p, tree_names,
                                      tree_settings)
    from synvid.video_io import VideoReadError
    try:
        cfg = from_args(RobustnessConfig, args)
        check_settings(cfg)
        names = check_tree_names(args.names or tree_names(cfg.mode), cfg.mode)
        check_resume(args.out, **tree_settings(cfg, args.split))           # refused before config.json is written
        save_config(args.out, cfg, data_root=args.data_root, names=names, split=args.split, profile=args.profile)
        manifest = make_ucf101p(args.data_root, args.out, cfg, names=names, split=args.split,
                                progress=not args.no_progress)
    except (ValueError, FileNotFoundError, VideoReadError) as e:
        raise SystemExit(f"error: {e}") from e
    mark_done(args.out, {"sets": sorted(manifest["sets"]), "mode": cfg.mode})  # DONE last (per-set DONEs inside)
    return manifest


if __name__ == "__main__":
    main(get_args_parser().parse_args())
