"""Paper tables and figures, ours beside the paper's (Tables 1-4, 9-12; Figures 2-4; the gap claims).

    python paper_tables/make_tables.py --profile smoke --runs runs/smoke --out results/smoke
    python paper_tables/make_tables.py --profile paper --runs runs/paper --out results/paper

Reads every finished run (`DONE`) under --runs and `paper_tables/reported.csv`; writes
<out>/tables/*.md and <out>/figures/fig2_progression.png. Only runs of --profile are used; smoke/mini
tables are captioned as not being paper results. The record schema is in README (Paper tables).
"""
import argparse
import sys
from pathlib import Path

from synvid.config import add_profile_argument


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    parser.add_argument("--runs", required=True, help="folder searched recursively for finished runs (DONE)")
    parser.add_argument("--out", required=True, help="writes <out>/tables/*.md and <out>/figures/*.png")
    parser.add_argument("--reported", default=None, help="reported.csv (default: the one next to this script)")
    parser.add_argument("--no-figures", action="store_true", help="markdown only")
    parser.add_argument("--seed", type=int, default=0, help="unused (tables are deterministic); for uniformity")
    return parser


def main(args: argparse.Namespace) -> dict:
    from synvid.tables import REPORTED_CSV, write_all
    if not Path(args.runs).is_dir():
        raise SystemExit(f"error: --runs {args.runs} is not a folder")
    try:
        summary = write_all(args.runs, args.out, profile=args.profile, reported_csv=args.reported or REPORTED_CSV,
                            figures=not args.no_figures)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from e
    for problem in summary["problems"]:
        print(f"warning: skipped run: {problem}", file=sys.stderr)
    print(f"{summary['records']} results -> {len(summary['written'])} files under {args.out}")
    return summary


if __name__ == "__main__":
    main(get_args_parser().parse_args())
