"""Toy labelled video sets in the exact UCF101 / HMDB51 layouts (for smoke runs and tests; never paper results).

    python data_gen/4_0_make_toy.py --dataset toy_ucf101 --out data/toy_ucf101
    python data_gen/4_0_make_toy.py --dataset toy_hmdb51 --out data/toy_hmdb51
    python data_gen/4_0_make_toy.py --dataset toy_actions --out data/toy_actions   # the miniature's action set

toy_ucf101 / toy_hmdb51: a disc moving over photographs (--num-classes, --frames). toy_actions: ten camera and
object motions over photographs, train and test cut from disjoint photos (docs/miniature.md); its recipe is
synvid.data.toy.make_toy_actions' defaults, recorded in <out>/config.json.
"""
import argparse

from synvid.cli import command
from synvid.data import toy


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="smoke", help="recorded only: the toy sets are the same for all")
    parser.add_argument("--dataset", required=True, choices=sorted(toy.MAKERS))
    parser.add_argument("--out", required=True, help="dataset root to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-classes", type=int, default=None, help="toy_ucf101/toy_hmdb51 (default 3)")
    parser.add_argument("--frames", type=int, default=None, help="frames per video (default: the set's own)")
    return parser


@command
def main(args: argparse.Namespace) -> None:
    recipe = {"num_classes": args.num_classes, "frames": args.frames}
    toy.write(args.dataset, args.out, seed=args.seed, profile=args.profile,
              **{k: v for k, v in recipe.items() if v is not None})


if __name__ == "__main__":
    main(get_args_parser().parse_args())
