"""Toy labelled video sets in the exact UCF101 / HMDB51 layouts (for smoke runs and tests; never paper results).

    python data_gen/4_0_make_toy.py --dataset toy_ucf101 --out data/toy_ucf101
    python data_gen/4_0_make_toy.py --dataset toy_hmdb51 --out data/toy_hmdb51
"""
import argparse

from synvid.cli import command
from synvid.data import toy


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", help="recorded only: the toy sets are the same for all")
    parser.add_argument("--dataset", required=True, choices=["toy_ucf101", "toy_hmdb51"])
    parser.add_argument("--out", required=True, help="dataset root to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-classes", type=int, default=3)
    parser.add_argument("--frames", type=int, default=24)
    return parser


@command
def main(args: argparse.Namespace) -> None:
    toy.write(args.dataset, args.out, num_classes=args.num_classes, frames=args.frames, seed=args.seed,
              profile=args.profile)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
