"""§5.3: FID (Inception frames) and FVD (I3D clips) of datasets vs UCF101; one results/<dataset>.json each.

Example (paper):
  python analysis/5_3_similarity.py --profile paper --out runs/analysis/paper --device cuda \
      --datasets moving_shapes --reference UCF101/ucfTrainTestlist/trainlist01.txt --video-root UCF101/UCF-101 \
      --inception-weights pt_inception-2015-12-05-6726825d.pth --i3d-weights i3d_torchscript.pt
"""
from synvid.cli import command
from synvid.stats import cli


def get_args_parser():
    return cli.get_args_parser(__doc__, "fid,fvd")


@command
def main(args):
    cli.main(args)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
