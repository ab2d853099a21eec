"""Section 4.3: linear probing (frozen encoder, BatchNorm(affine=False) + linear head), then the multi-view test.

    python linprobe/4_3_linprobe.py --profile smoke --dataset toy_ucf101 --data-root data/toy_ucf101 \
        --init runs/pretrain/smoke_moving_circles/last.pth --out runs/linprobe/smoke_toy_ucf101
    torchrun --nproc_per_node 8 linprobe/4_3_linprobe.py --dataset ucf101 --data-root /data/ucf101 \
        --init runs/pretrain/m1/last.pth --out runs/linprobe/m1_ucf101

paper profile: cached features of unaugmented views (Table 7: AdamW 1e-2, wd 0; fine-tuning steps per epoch and
label smoothing); authors profile: the released script's augmented-clip probe (AdamW 0.1, fine-tuning augmentations,
drop path on). Rerunning the same command resumes from <out>/last.pth. See README (Fine-tuning).
"""
import argparse

from synvid.config import LinprobeConfig, add_arguments, add_profile_argument, from_args


def get_args_parser() -> argparse.ArgumentParser:
    from synvid.data.registry import add_run_arguments
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    add_run_arguments(parser, "pre-trained checkpoint to probe")
    add_arguments(parser, LinprobeConfig)
    return parser


def main(args: argparse.Namespace) -> dict:
    from synvid import dist
    from synvid.checkpoint import CheckpointError
    from synvid.data.registry import run_extra
    from synvid.engine.linprobe import run
    from synvid.video_io import VideoReadError
    try:
        cfg = from_args(LinprobeConfig, args)
        results = run(cfg, args.out, dataset=args.dataset, data_root=args.data_root, init=args.init,
                      profile=args.profile, progress=not args.no_progress, extra=run_extra(args),
                      allow_unfinished=args.allow_unfinished)
        main_rank = dist.is_main()
    except (ValueError, FileNotFoundError, RuntimeError, CheckpointError, VideoReadError) as e:
        raise SystemExit(f"error: {e}") from e
    finally:
        dist.cleanup()
    if main_rank:
        print(f"{args.dataset} linear probe ({results['mode']}): top-1 {results['top1']:.2f} "
              f"top-5 {results['top5']:.2f} over {results['num_videos']} videos ({results['views']} views; "
              f"{results.get('total_steps')} steps, {results.get('steps_per_epoch')}/epoch)")
    return results


if __name__ == "__main__":
    main(get_args_parser().parse_args())
