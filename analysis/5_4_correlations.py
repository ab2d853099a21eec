"""Figure 4 (a-e): dataset statistics vs UCF101 fine-tune top-1, Pearson r on each panel.

Examples:
  python analysis/5_4_correlations.py --stats-dir runs/analysis/paper/results --runs runs/paper --out runs/analysis/fig4
  python analysis/5_4_correlations.py --stats-dir runs/analysis/paper/results \
      --accuracy-csv paper_tables/reported.csv --out runs/analysis/fig4_reported
"""
import argparse

from synvid import config
from synvid.cli import command
from synvid.stats import correlation


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    config.add_profile_argument(p)
    p.add_argument("--out", required=True, help="run directory (fig4_correlations.png, DONE with r values)")
    p.add_argument("--stats-dir", required=True, help="results/ folder of 5_3_similarity.py / 5_4_frame_properties.py")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--runs", help="folder of fine-tune runs (read as synvid.tables does)")
    src.add_argument("--accuracy-csv", help="CSV `dataset,accuracy` or paper_tables/reported.csv")
    p.add_argument("--only-profile", default=None, help="with --runs: keep runs of this profile only")
    p.add_argument("--seed", type=int, default=0, help="unused (no randomness); kept for the common interface")
    return p


@command
def main(args):
    return correlation.figure4(args.stats_dir, args.out, runs=args.runs, accuracy_csv=args.accuracy_csv,
                               only_profile=args.only_profile)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
