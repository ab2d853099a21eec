"""Paper tables and figures, ours beside the paper's (Tables 1-4, 9-12; Figures 2-4; the gap claims).

    python paper_tables/make_tables.py --profile smoke --runs runs/smoke --out results/smoke
    python paper_tables/make_tables.py --profile paper --runs runs/paper --out results/paper

Reads every finished run (`DONE`) under --runs and `paper_tables/reported.csv`; writes <out>/REPORT.md (every
table with its figure, in paper order), <out>/tables/*.md (problems.md lists every refused run and why) and
<out>/figures/*.png. A cell takes only runs of --profile with its model size, probe mode and downstream dataset;
smoke/mini tables are captioned as not being paper results. Record schema and rules: docs/tables.md.
Under --profile cpu it writes the miniature's report instead (synvid.miniature, docs/miniature.md).
"""
import argparse
import sys
from pathlib import Path

from synvid import miniature, report, tables
from synvid.cli import command
from synvid.config import add_profile_argument
from synvid.errors import MissingInput


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    parser.add_argument("--runs", required=True, help="folder searched recursively for finished runs (DONE)")
    parser.add_argument("--out", required=True, help="writes <out>/tables/*.md and <out>/figures/*.png")
    parser.add_argument("--reported", default=None, help="reported.csv (default: the one next to this script)")
    parser.add_argument("--no-figures", action="store_true", help="markdown only")
    parser.add_argument("--planned", default=None,
                        help="comma-separated COLUMN:KEY cells this run_all.sh plan launches (run_all.sh passes it; "
                             "an empty cell then says whether it is unfinished or needs another mode)")
    parser.add_argument("--seed", type=int, default=0, help="unused (tables are deterministic); for uniformity")
    return parser


@command
def main(args: argparse.Namespace) -> dict:
    if not Path(args.runs).is_dir():
        raise MissingInput(f"--runs {args.runs} is not a folder")
    if args.profile == "cpu":      # the miniature reproduction has its own report (docs/miniature.md)
        reported = tables.read_reported(args.reported or tables.REPORTED_CSV)
        summary = miniature.write(args.runs, args.out, dataset=miniature.DATASET, reported=reported,
                                  stamp=report.stamp(), figures_too=not args.no_figures)
        print(f"miniature report: {Path(args.out) / 'REPORT.md'}")
        return summary
    planned = None if args.planned is None else {c for c in args.planned.split(",") if c}
    summary = report.write_all(args.runs, args.out, profile=args.profile, reported_csv=args.reported,
                               figures=not args.no_figures, planned=planned)
    for problem in summary["problems"]:
        print(f"warning: refused run: {problem}", file=sys.stderr)
    print(f"{summary['records']} results -> {len(summary['written'])} files under {args.out} "
          f"(report: {Path(args.out) / 'REPORT.md'})")
    return summary


if __name__ == "__main__":
    main(get_args_parser().parse_args())
