"""Figure 1 grid: frames t = 0, 10, 20, 30 of one video per dataset (one row each), as a PNG.

    python data_gen/3_1_sample_grid.py --out runs/figures/fig1 --imagenet /data/imagenet/train   # all eight rows
"""
import argparse
from pathlib import Path

import torch
from PIL import Image

from synvid import progression
from synvid.cli import command
from synvid.config import RenderConfig, TextureConfig, add_profile_argument, resolve, save_config
from synvid.errors import UnknownName
from synvid.render.video import render
from synvid.runs import atomic_write, mark_done

FRAMES = (0, 10, 20, 30)   # Figure 1


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(p)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--names", nargs="+", default=None,
                   help="registered names (default: the progression; without --imagenet, all but image crops)")
    p.add_argument("--imagenet", default="", help="ImageFolder root for the image-crop rows")
    return p


@command
def main(args):
    names = args.names or [n for n in progression.NAMES if args.imagenet or "image_crops" not in n]
    unknown = [n for n in names if n not in progression.DATASETS]
    if unknown:
        raise UnknownName(f"unknown dataset(s) {unknown}; see data_gen/3_1_generate.py --list")
    cfg, tex = resolve(RenderConfig, args.profile), resolve(TextureConfig, args.profile)
    save_config(args.out, cfg, tex, seed=args.seed, index=args.index, names=names, frames=list(FRAMES),
                profile=args.profile)
    rows = []
    for name in names:
        n = progression.num_frames(name, args.index, args.seed, cfg)   # short (smoke) videos: clip to the last
        video = render(name, args.index, seed=args.seed, frames=[min(t, n - 1) for t in FRAMES],
                                   size=cfg.size, cfg=cfg, tex_cfg=tex, imagenet=args.imagenet)
        rows.append(torch.cat(list(video), 1))
    image = Image.fromarray(torch.cat(rows, 0).numpy())
    atomic_write(Path(args.out) / "figure1_grid.png", lambda tmp: image.save(tmp, format="PNG"))
    mark_done(args.out, {"png": "figure1_grid.png", "rows": names})


if __name__ == "__main__":
    main(get_args_parser().parse_args())
