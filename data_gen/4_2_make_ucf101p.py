"""Write UCF101-P as files (paper Section 4.2, Figure 3; PROTOCOLS.md §4.4-4.5): one ordinary UCF101 root per
(corruption, severity) under <out>/<name>_<s>/, and <out>/manifest.json naming the clean source.

--mode benchmark (paper profile): the 13 UCF101-P sets as the benchmark's generator writes them (full resolution,
  an mp4v re-encode; the codecs as FFmpeg's own files). --mode hook (authors profile): only the two codecs; the
  other corruptions act on each test view at evaluation time. Every severity of --severities (default 1-5).
Resumable; deterministic given --seed.

    python data_gen/4_2_make_ucf101p.py --data-root data/UCF101 --out data/ucf101p
"""
import argparse

from synvid.cli import command
from synvid.config import FinetuneConfig, RobustnessConfig, add_arguments, add_profile_argument, settings
from synvid.ucf101p_files import make_ucf101p


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    parser.add_argument("--data-root", required=True, help="UCF101 root (UCF-101/ and ucfTrainTestlist/)")
    parser.add_argument("--out", required=True, help="UCF101-P root to write")
    parser.add_argument("--names", nargs="+", default=None, help="corruptions to write (default: all of the mode)")
    parser.add_argument("--split", type=int, default=FinetuneConfig.split, help="test split (default: the paper's)")
    parser.add_argument("--no-progress", action="store_true")
    add_arguments(parser, RobustnessConfig)
    return parser


@command
def main(args: argparse.Namespace) -> dict:
    cfg, _ = settings(RobustnessConfig, args.profile, flags=args)
    return make_ucf101p(args.data_root, args.out, cfg, names=args.names,
                        split=args.split, progress=not args.no_progress, profile=args.profile)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
