"""Materialise a registered synthetic dataset (Section 3.1): python data_gen/3_1_generate.py --dataset NAME."""
import argparse
from pathlib import Path

from synvid import progression
from synvid.cli import command
from synvid.config import RenderConfig, TextureConfig, add_profile_argument, resolve, save_config
from synvid.errors import BadInput, MissingInput
from synvid.render import RENDER_VERSION
from synvid.render.writer import check_render_version, materialise
from synvid.runs import mark_done


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
    if args.imagenet and not Path(args.imagenet).is_dir():
        raise MissingInput(f"--imagenet directory {args.imagenet} does not exist")
    if args.bank and not (Path(args.bank) / "manifest.json").is_file():
        raise MissingInput(f"--bank {args.bank} is not a texture bank (no manifest.json)")
    cfg = resolve(RenderConfig, args.profile)
    tex = resolve(TextureConfig, args.profile, imagenet=args.imagenet)
    n = args.num_videos or cfg.num_videos
    if n < 1:
        raise BadInput(f"--num-videos must be >= 1, got {n}")
    check_render_version(args.out)      # before config.json is rewritten: an old set is refused, not resumed
    save_config(args.out, cfg, tex, dataset=args.dataset, seed=args.seed, num_videos=n, bank=args.bank,
                profile=args.profile, render_version=RENDER_VERSION)
    m = materialise(args.dataset, n, args.out, seed=args.seed, cfg=cfg, workers=args.workers,
                    imagenet=args.imagenet, tex_cfg=tex, bank=args.bank, texture_device=args.texture_device)
    mark_done(args.out, {"num_videos": len(m["files"])})


if __name__ == "__main__":
    main(get_args_parser().parse_args())
