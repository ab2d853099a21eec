"""Section 4.3: linear probing (frozen encoder, BatchNorm(affine=False) + linear head), then the multi-view test.

    python linprobe/4_3_linprobe.py --profile smoke --dataset toy_ucf101 --data-root data/toy_ucf101 \
        --init runs/pretrain/smoke_moving_circles/last.pth --out runs/linprobe/smoke_toy_ucf101
    torchrun --nproc_per_node 8 linprobe/4_3_linprobe.py --dataset ucf101 --data-root /data/ucf101 \
        --init runs/pretrain/m1/last.pth --out runs/linprobe/m1_ucf101

paper profile: §4.3 = the fine-tuning recipe with the encoder frozen (fine-tuning augmentations, train mode, drop
path 0.2), AdamW 1e-2, wd 0 (Table 7); authors profile: the released LP.sh (AdamW 0.1 via DeepSpeed, beta2 0.999,
dropout 0.5). The fine-tuning settings are 4_1_finetune.py's for the same profile and --dataset (its recipe
included), with the same flags; LinprobeConfig's flags replace lr, min lr, weight and layer decay.
`--cache-features true` is the fast mode (head on cached features of unaugmented views), recorded as probe_mode
"cached"; `--feature-cache DIR` shares those features between probes of one encoder (run_all passes it).
`--stop-after N` stops after N steps; rerunning the same command resumes from <out>/last.pth at that step. See
docs/finetuning.md.
"""
import argparse

from synvid import dist
from synvid.cli import command
from synvid.config import (PROBE_REPLACES, FinetuneConfig, LinprobeConfig, add_arguments, add_profile_argument,
                           settings)
from synvid.data.registry import add_run_arguments, run_extra
from synvid.engine import linprobe as engine


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    add_run_arguments(parser)
    add_arguments(parser, FinetuneConfig, skip=PROBE_REPLACES)   # §4.3: the fine-tuning settings the probe runs
    add_arguments(parser, LinprobeConfig)                        # what it replaces, and its mode
    parser.add_argument("--feature-cache", default=None, metavar="DIR",
                        help="cached mode: keep the training features in DIR, shared by every probe of the same "
                             "encoder and settings (e.g. the seeds of a plan); default: the run's own features.pt")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after N steps without DONE")
    return parser


def probe_settings(args: argparse.Namespace) -> tuple[LinprobeConfig, FinetuneConfig, dict]:
    """The probe's own config, the fine-tuning settings it runs over and the overrides of both (config.settings)."""
    tune, tuned = settings(FinetuneConfig, args.profile, dataset=args.dataset, flags=args, skip=PROBE_REPLACES)
    cfg, probed = settings(LinprobeConfig, args.profile, dataset=args.dataset, flags=args)
    return cfg, tune, {**tuned, **probed}


@command
def main(args: argparse.Namespace) -> dict:
    cfg, tune, overrides = probe_settings(args)
    results = engine.run(cfg, tune, args.out, dataset=args.dataset, data_root=args.data_root, init=args.init,
                         stop_after=args.stop_after, progress=not args.no_progress,
                         extra=run_extra(args, overrides), allow_unfinished=args.allow_unfinished,
                         feature_cache=args.feature_cache)
    if not dist.is_main():
        return results
    if "top1" not in results:
        print(f"stopped after {results['steps']} of {results['total_steps']} steps; rerun to resume")
    else:
        print(f"{args.dataset} linear probe ({results.get('probe_mode')}): top-1 {results['top1']:.2f} "
              f"top-5 {results['top5']:.2f} over {results['num_videos']} videos ({results['views']} views; "
              f"{results.get('total_steps')} steps, {results.get('steps_per_epoch')}/epoch)")
    return results


if __name__ == "__main__":
    main(get_args_parser().parse_args())
