"""Section 3.2: VideoMAE (or, with --objective vjepa, V-JEPA) pre-training on an on-the-fly synthetic set, a
list file or natural videos.

    python pretrain/3_2_pretrain.py --profile smoke --dataset moving_circles --out runs/pretrain/smoke
    python pretrain/3_2_pretrain.py --profile smoke --objective vjepa --dataset moving_circles --out runs/vj
    torchrun --nproc_per_node 8 pretrain/3_2_pretrain.py --dataset moving_circles --out runs/pretrain/m1
    torchrun --nproc_per_node 8 pretrain/3_2_pretrain.py --list ucf101_train.csv --out runs/pretrain/ucf101

Rerunning the same command resumes from <out>/last.pth; a finished run (DONE) is skipped.
"""
import argparse

from synvid import dist
from synvid.cli import command
from synvid.config import (PretrainConfig, RenderConfig, TextureConfig, VjepaConfig, add_arguments,
                           add_profile_argument, resolve, settings)
from synvid.engine import pretrain as engine
from synvid.plan import MIX_REAL


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="on-the-fly synthetic dataset name (synvid.progression.DATASETS)")
    source.add_argument("--list", dest="list_file", help="official VideoMAE list file (`path label` lines)")
    parser.add_argument("--out", required=True, help="run directory (config.json, log.jsonl, last.pth, DONE)")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="stop after this many steps in total without writing DONE (rerun to continue)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    parser.add_argument("--imagenet", default="", help="ImageFolder root for the image-crop sets")
    parser.add_argument("--bank", default="", help="texture bank (data_gen/3_1_texture_banks.py) for textured sets")
    parser.add_argument("--mix-list", default=None, help="real videos (list file) for --mix-fraction (Table 11)")
    parser.add_argument("--mix-name", default=MIX_REAL, help="name of the --mix-list set in the result key "
                                                           "<dataset>_<name>_<pct>pct (Table 11, synvid.plan.mix_key)")
    add_arguments(parser, PretrainConfig)
    add_arguments(parser, VjepaConfig, prefix="vjepa")
    return parser


@command
def main(args: argparse.Namespace) -> dict:
    cfg, _ = settings(PretrainConfig, args.profile, flags=args)
    vjepa, _ = settings(VjepaConfig, args.profile, flags=args, prefix="vjepa")
    render = resolve(RenderConfig, args.profile)
    synthetic = dict(cfg=render, tex_cfg=resolve(TextureConfig, args.profile), imagenet=args.imagenet, bank=args.bank)
    results = engine.run(cfg, args.out, dataset=args.dataset, list_file=args.list_file, render_size=render.size,
                         synthetic=synthetic, mix_list=args.mix_list, stop_after=args.stop_after,
                         progress=not args.no_progress, vjepa=vjepa,
                         extra={"profile": args.profile, "mix_name": args.mix_name})
    if dist.is_main():
        state = "finished" if results["steps"] == results["total_steps"] else "stopped"
        print(f"pre-training {state}: {results}")
    return results

if __name__ == "__main__":
    main(get_args_parser().parse_args())
