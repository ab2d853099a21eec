"""A labelled dataset's split as an official VideoMAE list file (`<absolute path> <label>` per line), checked first
(every listed video exists). Used to pre-train on real videos: the UCF101 upper bound and Table 11's mixes.

    python data_gen/4_0_write_list.py --dataset ucf101 --data-root $UCF101_ROOT --subset train --out ucf101_train.csv
"""
import argparse
import sys
from pathlib import Path


def get_args_parser() -> argparse.ArgumentParser:
    from synvid.config import FinetuneConfig
    from synvid.data.registry import DATASETS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="paper", help="recorded only")
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    parser.add_argument("--data-root", required=True, help="dataset tree (layouts: README, fine-tuning section)")
    parser.add_argument("--subset", default="train", choices=["train", "test"])
    parser.add_argument("--split", type=int, default=FinetuneConfig.split, help="default: the paper's")
    parser.add_argument("--out", required=True, help="list file to write")
    return parser


def main(args: argparse.Namespace) -> None:
    from synvid.data import registry
    from synvid.data.lists import write_list
    try:
        items, classes = registry.load(args.dataset, args.data_root, args.subset, args.split)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    write_list(args.out, [(str(Path(path).resolve()), label) for path, label in items])
    print(f"wrote {len(items)} {args.dataset} {args.subset} videos ({len(classes)} classes) to {args.out}")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
