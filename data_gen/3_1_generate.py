"""Materialise a registered synthetic dataset (Section 3.1): python data_gen/3_1_generate.py --dataset NAME."""
import argparse

from synvid import progression
from synvid.cli import command
from synvid.config import add_profile_argument
from synvid.errors import BadInput
from synvid.render.writer import generate_set


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__)
    add_profile_argument(p)
    p.add_argument("--dataset", choices=list(progression.DATASETS))
    p.add_argument("--num-videos", type=int, default=None, help="default: RenderConfig.num_videos")
    p.add_argument("--out", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--imagenet", default="", help="ImageNet train dir (image-crop set)")
    p.add_argument("--bank", default="", help="texture bank of data_gen/3_1_texture_banks.py to read textures from "
                                             "(default: generate them from the seed; same pixels)")
    p.add_argument("--texture-device", default=None,
                   help="where textures are generated (e.g. cuda: StyleGAN / statistical textures on the GPU while "
                        "the workers' CPU rasteriser draws; default cpu)")
    p.add_argument("--list", action="store_true", help="print registered names and exit")
    return p


@command
def main(args):
    if args.list:
        print("\n".join(progression.DATASETS))
        return
    if not args.dataset or not args.out:
        raise BadInput("--dataset and --out are required (or --list)")
    generate_set(args.dataset, args.out, profile=args.profile, num_videos=args.num_videos, seed=args.seed,
                 workers=args.workers, imagenet=args.imagenet, bank=args.bank, texture_device=args.texture_device)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
