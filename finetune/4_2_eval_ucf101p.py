"""Evaluate a fine-tuned UCF101 classifier on the 14 UCF101-P corruptions at every severity (paper Section 4.2,
Figure 3; PROTOCOLS.md §4.4-4.5).

    python finetune/4_2_eval_ucf101p.py --run runs/ft_ucf101 --p-root data/ucf101p --out runs/ucf101p/ours
    python finetune/4_2_eval_ucf101p.py --profile authors --run runs/ft_ucf101 --data-root data/UCF101 --out ...
    python finetune/4_2_eval_ucf101p.py --chart-only --compare ours=runs/ucf101p/ours/summary.json \
        videomae=runs/ucf101p/vm/summary.json --out runs/ucf101p/compare
--mode benchmark (paper profile) reads the 13 UCF101-P sets from --p-root (data_gen/4_2_make_ucf101p.py);
--mode hook (authors profile) corrupts each test view of --data-root (default: the --p-root manifest's source) and
takes the codecs from --p-root or re-encodes them on the fly. glass_blur acts per view in both modes.
Writes <out>/<corruption>/<severity>/results.json, <out>/summary.json (per severity, mean and the headline:
--headline, paper "mean", authors "1"), <out>/figure3.png (headline top-1 of this model plus --compare ones) and
the wins of the first model over each other one, over all corruptions and over the 13 UCF101-P sets (wins.json).
"""
import argparse

from synvid import robustness
from synvid.cli import command
from synvid.config import RobustnessConfig, add_arguments, add_profile_argument, settings


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    parser.add_argument("--run", help="fine-tuning run directory (config.json + last.pth)")
    parser.add_argument("--label", default="model", help="name of this model in the chart")
    parser.add_argument("--p-root", help="UCF101-P tree written by data_gen/4_2_make_ucf101p.py")
    parser.add_argument("--data-root", help="clean UCF101 (default: the --p-root manifest's source)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--names", nargs="+", default=None, help="corruptions (default: all 14)")
    parser.add_argument("--device", default=None, help="default: cuda if available")
    parser.add_argument("--compare", nargs="*", default=[], metavar="LABEL=SUMMARY_JSON")
    parser.add_argument("--chart-only", action="store_true", help="only chart/count the --compare summaries")
    parser.add_argument("--allow-unfinished", action="store_true", help="accept a --run without DONE")
    add_arguments(parser, RobustnessConfig)
    return parser


@command
def main(args: argparse.Namespace) -> dict:
    cfg, _ = settings(RobustnessConfig, args.profile, flags=args)
    return robustness.run(cfg, args.out, run_dir=args.run, chart_only=args.chart_only,
                          label=args.label, compare=args.compare, names=args.names, p_root=args.p_root,
                          data_root=args.data_root, device=args.device,
                          allow_unfinished=args.allow_unfinished, profile=args.profile)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
