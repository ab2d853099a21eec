"""Write the offline part of UCF101-P (paper Section 4.2, Figure 3; PROTOCOLS.md §4.3, Q13): the two codec
re-encodings of the UCF101 test split, each an ordinary UCF101 tree (UCF-101/ + ucfTrainTestlist/) under
<out>/<codec>/, and <out>/manifest.json naming the clean source. The other 12 corruptions act on each test view at
evaluation time (finetune/4_2_eval_ucf101p.py reads the clean videos from the manifest's source). Resumable;
deterministic.

    python data_gen/4_2_make_ucf101p.py --data-root data/UCF101 --out data/ucf101p --severity 3
"""
import argparse


def get_args_parser() -> argparse.ArgumentParser:
    from synvid.config import RobustnessConfig, add_arguments, add_profile_argument
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    parser.add_argument("--data-root", required=True, help="UCF101 root (UCF-101/ and ucfTrainTestlist/)")
    parser.add_argument("--out", required=True, help="UCF101-P root to write")
    parser.add_argument("--names", nargs="+", default=None, help="codecs to write (default: codec1 codec2)")
    parser.add_argument("--split", type=int, default=1, help="test split (the paper uses split 1)")
    parser.add_argument("--no-progress", action="store_true")
    add_arguments(parser, RobustnessConfig)
    return parser


def main(args: argparse.Namespace) -> dict:
    from synvid import corruptions
    from synvid.config import RobustnessConfig, from_args, save_config
    from synvid.robustness import check_resume, check_tree_names, make_ucf101p
    from synvid.runs import mark_done
    from synvid.video_io import VideoReadError
    try:
        cfg = from_args(RobustnessConfig, args)
        if cfg.severity not in (1, 2, 3, 4, 5):
            raise ValueError(f"--severity must be 1-5, got {cfg.severity}")
        names = check_tree_names(args.names or corruptions.WHOLE_VIDEO)
        check_resume(args.out, split=args.split, severity=cfg.severity, seed=cfg.seed)
        save_config(args.out, cfg, data_root=args.data_root, names=names, split=args.split, profile=args.profile)
        manifest = make_ucf101p(args.data_root, args.out, names=names, severity=cfg.severity, seed=cfg.seed,
                                split=args.split, progress=not args.no_progress)
    except (ValueError, FileNotFoundError, VideoReadError) as e:
        raise SystemExit(f"error: {e}") from e
    mark_done(args.out, {"corruptions": sorted(manifest["corruptions"])})  # DONE last (per-corruption DONEs inside)
    return manifest


if __name__ == "__main__":
    main(get_args_parser().parse_args())
