"""Figure 1 grid: frames t = 0, 10, 20, 30 of one video per dataset, as a PNG."""
import argparse
from pathlib import Path

import torch
from PIL import Image

from synvid import progression
from synvid.config import add_profile_argument, save_config
from synvid.runs import mark_done


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__)
    add_profile_argument(p)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--names", nargs="+", default=list(progression.NAMES[:5]),
                   help="textured names need synvid.textures (and --imagenet for image crops)")
    return p


def main(args):
    save_config(args.out, seed=args.seed, names=args.names)
    rows = [torch.cat(list(progression.render(n, args.index, seed=args.seed, frames=[0, 10, 20, 30])), 1)
            for n in args.names]
    Image.fromarray(torch.cat(rows, 0).numpy()).save(Path(args.out) / "figure1_grid.png")
    mark_done(args.out, {"png": "figure1_grid.png"})


if __name__ == "__main__":
    main(get_args_parser().parse_args())
