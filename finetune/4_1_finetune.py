"""Section 4.1: fine-tune on UCF101 / HMDB51 / K400 (or a toy set) and run the multi-view test.

    python finetune/4_1_finetune.py --profile smoke --dataset toy_ucf101 --data-root data/toy_ucf101 \
        --init runs/pretrain/smoke_moving_circles/last.pth --out runs/finetune/smoke_toy_ucf101
    torchrun --nproc_per_node 8 finetune/4_1_finetune.py --dataset ucf101 --data-root /data/ucf101 \
        --init runs/pretrain/m1/last.pth --out runs/finetune/m1_ucf101

--init takes `scratch`, a synvid run directory or checkpoint, an official VideoMAE / V-JEPA file, or a HuggingFace
VideoMAE folder or weights file (synvid.inits; DONE records what it resolved to as `upstream`). Settings: default <
profile < the dataset's recipe (K400, PROTOCOLS Q15: synvid/profiles.py RECIPES) < flags (config.settings).
Rerunning the same command resumes from <out>/last.pth; a finished run (DONE) is skipped.
"""
import argparse

from synvid import dist
from synvid.cli import command
from synvid.config import FinetuneConfig, add_arguments, add_profile_argument, settings
from synvid.data.registry import add_run_arguments, run_extra
from synvid.engine import finetune as engine


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    add_run_arguments(parser)
    parser.add_argument("--stop-after", type=int, default=None, help="stop after N steps without DONE")
    add_arguments(parser, FinetuneConfig)
    return parser


@command
def main(args: argparse.Namespace) -> dict:
    cfg, overrides = settings(FinetuneConfig, args.profile, dataset=args.dataset, flags=args)
    results = engine.run(cfg, args.out, dataset=args.dataset, data_root=args.data_root, init=args.init,
                         stop_after=args.stop_after, progress=not args.no_progress,
                         allow_unfinished=args.allow_unfinished, extra=run_extra(args, overrides))
    if dist.is_main() and "top1" in results:
        print(f"{args.dataset}: top-1 {results['top1']:.2f} top-5 {results['top5']:.2f} over "
              f"{results['num_videos']} videos ({results['views']} views); skipped {results['skipped_videos']}")
    return results


if __name__ == "__main__":
    main(get_args_parser().parse_args())
