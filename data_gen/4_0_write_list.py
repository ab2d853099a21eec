"""A labelled dataset's split as an official VideoMAE list file (`<absolute path> <label>` per line), checked first
(every listed video exists). Used to pre-train on real videos: the UCF101 upper bound and Table 11's mixes.

    python data_gen/4_0_write_list.py --dataset ucf101 --data-root $UCF101_ROOT --subset train --out ucf101_train.csv
"""
import argparse

from synvid.cli import command
from synvid.config import FinetuneConfig
from synvid.data.registry import DATASETS, split_to_list


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="paper", help="recorded only")
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    parser.add_argument("--data-root", required=True, help="dataset tree (layouts: docs/finetuning.md)")
    parser.add_argument("--subset", default="train", choices=["train", "test"])
    parser.add_argument("--split", type=int, default=FinetuneConfig.split, help="default: the paper's")
    parser.add_argument("--out", required=True, help="list file to write")
    return parser


@command
def main(args: argparse.Namespace) -> None:
    split_to_list(args.dataset, args.data_root, args.subset, args.split, args.out)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
