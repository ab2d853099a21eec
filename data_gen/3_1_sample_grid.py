"""Figure 1 grid: frames t = 0, 10, 20, 30 of one video per dataset (one row each), as a PNG.

    python data_gen/3_1_sample_grid.py --out runs/figures/fig1 --imagenet /data/imagenet/train   # all eight rows
"""
import argparse

from synvid.cli import command
from synvid.config import add_profile_argument
from synvid.render.writer import figure1_grid


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(p)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--names", nargs="+", default=None,
                   help="registered names (default: the progression; without --imagenet, all but image crops)")
    p.add_argument("--imagenet", default="", help="ImageFolder root for the image-crop rows")
    return p


@command
def main(args):
    figure1_grid(args.out, args.names, profile=args.profile, seed=args.seed, index=args.index, imagenet=args.imagenet)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
