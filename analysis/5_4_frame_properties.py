"""§5.4: frame diversity, spectrum and colour (and, on request, FID/FVD) of datasets vs UCF101.

Example (smoke, no weights):
  python analysis/5_4_frame_properties.py --profile smoke --out runs/analysis/smoke \
      --datasets static_circles,moving_shapes --size 64 --stats spectrum,color \
      --reference data/toy_ucf101/ucfTrainTestlist/trainlist01.txt --video-root data/toy_ucf101/UCF-101
"""
from synvid.cli import command
from synvid.stats import cli


def get_args_parser():
    return cli.get_args_parser(__doc__, "diversity,spectrum,color")


@command
def main(args):
    cli.main(args)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
