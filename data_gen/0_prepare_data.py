"""Real data in one command: fetch, unpack, verify and register a dataset or weight file (docs/data.md).

    python data_gen/0_prepare_data.py --dataset ucf101 --root data/ucf101
    python data_gen/0_prepare_data.py --dataset k400 --root data/k400 --subset all
    python data_gen/0_prepare_data.py --dataset imagenet --root data/imagenet --from-archive ILSVRC2012_img_train.tar
    python data_gen/0_prepare_data.py --dataset inception --root data/weights
    python data_gen/0_prepare_data.py --dataset hmdb51 --check data/hmdb51
    python data_gen/0_prepare_data.py --list

The root is registered in data/paths.env (or $SYNVID_PATHS), which run_all.sh reads.
"""
import argparse
import os
from pathlib import Path

from synvid.cli import command
from synvid.errors import BadInput
from synvid.prepare import pipeline, sources

PATHS_FILE = Path(os.environ.get("SYNVID_PATHS") or Path(__file__).resolve().parents[1] / "data" / "paths.env")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=list(sources.SOURCES), help="what to prepare or check")
    parser.add_argument("--root", help="folder to prepare it in (weights: the folder of the file)")
    parser.add_argument("--check", metavar="ROOT", help="only verify ROOT (a tree, or a weight file)")
    parser.add_argument("--list", action="store_true", help="print the official sources and exit")
    parser.add_argument("--mirror", metavar="BASE", help="swap the scheme and host of every official URL")
    parser.add_argument("--url", help="fetch this source's file (the one of the same name) from URL instead")
    parser.add_argument("--sha256", metavar="HEX", help="the hash the --url file must have (checked, recorded)")
    parser.add_argument("--from-archive", metavar="PATH", action="append", default=[],
                        help="an archive you already have, or a folder of them (repeatable)")
    parser.add_argument("--subset", default="all", choices=["train", "val", "all"], help="K400 splits to fetch")
    parser.add_argument("--keep-archives", action="store_true", help="keep downloads after unpacking them")
    parser.add_argument("--expect", default="published",
                        help="counts to enforce: published (default), listed (what the split files list), or a "
                             "JSON file of figures")
    parser.add_argument("--sample", type=int, default=8, help="videos (images) decoded in full")
    parser.add_argument("--workers", type=int, default=4, help="threads of the per-file check")
    parser.add_argument("--paths-file", default=str(PATHS_FILE), help="registration file run_all.sh reads")
    parser.add_argument("--no-register", action="store_true", help="prepare and verify, register nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


@command
def main(args: argparse.Namespace) -> None:
    if args.list:
        for row in sources.table():
            print(f"{row['dataset']:16} {row['file']:42} {row['url']}\n{'':16} hash: {row['hash']}")
        return
    if not args.dataset or not (args.root or args.check):
        raise BadInput("--dataset NAME and --root DIR (or --check ROOT) are required; --list shows the names")
    options = pipeline.Options(
        mirror=args.mirror, url=args.url, sha256=args.sha256, from_archive=args.from_archive, subset=args.subset,
        keep_archives=args.keep_archives, expect=args.expect, sample=args.sample, workers=args.workers,
        progress=not args.no_progress, paths_file=None if args.no_register else Path(args.paths_file))
    if args.check:
        pipeline.check(args.dataset, args.check, options)
    else:
        pipeline.prepare(args.dataset, args.root, options)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
