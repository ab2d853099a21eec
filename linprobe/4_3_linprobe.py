"""Section 4.3: linear probing (frozen encoder, BatchNorm(affine=False) + linear head), then the multi-view test.

    python linprobe/4_3_linprobe.py --profile smoke --dataset toy_ucf101 --data-root data/toy_ucf101 \
        --init runs/pretrain/smoke_moving_circles/last.pth --out runs/linprobe/smoke_toy_ucf101
    torchrun --nproc_per_node 8 linprobe/4_3_linprobe.py --dataset ucf101 --data-root /data/ucf101 \
        --init runs/pretrain/m1/last.pth --out runs/linprobe/m1_ucf101

paper profile: §4.3 = the fine-tuning recipe with the encoder frozen (fine-tuning augmentations, train mode, drop
path 0.2), AdamW 1e-2, wd 0 (Table 7); authors profile: the released LP.sh (AdamW 0.1 via DeepSpeed, beta2 0.999,
dropout 0.5). `--cache-features true` is the fast mode (head on cached features of unaugmented views), recorded as
probe_mode "cached". `--stop-after N` stops after N steps; rerunning the same command resumes from <out>/last.pth
at that step. See docs/finetuning.md.
"""
import argparse

from synvid import dist
from synvid.cli import command
from synvid.config import LinprobeConfig, add_arguments, add_profile_argument, from_args
from synvid.data.registry import add_run_arguments, run_extra
from synvid.engine import linprobe as engine


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    add_run_arguments(parser)
    add_arguments(parser, LinprobeConfig)
    parser.add_argument("--stop-after", type=int, default=None, help="stop after N steps without DONE")
    return parser


@command
def main(args: argparse.Namespace) -> dict:
    cfg = from_args(LinprobeConfig, args)
    extra = run_extra(args, LinprobeConfig, lambda a: from_args(LinprobeConfig, a))
    results = engine.run(cfg, args.out, dataset=args.dataset, data_root=args.data_root, init=args.init,
                         profile=args.profile, stop_after=args.stop_after, progress=not args.no_progress,
                         extra=extra, allow_unfinished=args.allow_unfinished)
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
