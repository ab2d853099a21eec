"""§5.5 / Figure 5: PCA (3 components -> RGB) of the last-layer keys of each checkpoint on videos of one class.

Example (paper):
  python analysis/5_5_visualize_features.py --profile paper --out runs/analysis/fig5 --device cuda \
      --checkpoints runs/paper/pretrain/moving_shapes/last.pth,videomae_k400.pth \
      --labels "moving shapes,K400" --data-root UCF101/UCF-101 --class-name PlayingGuitar
"""
import argparse

from synvid import config
from synvid.cli import command
from synvid.stats import pca_keys


def get_args_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    config.add_profile_argument(p)
    config.add_arguments(p, config.StatsConfig)
    p.add_argument("--out", required=True, help="run directory (fig5_key_pca.png, DONE)")
    p.add_argument("--checkpoints", required=True, help="comma-separated .pth / .safetensors / HF dirs")
    p.add_argument("--labels", default="", help="comma-separated row labels (default: file names)")
    p.add_argument("--data-root", required=True, help="UCF-101/ folder with <ClassName>/ video folders")
    p.add_argument("--class-name", required=True, help="UCF101 class, e.g. PlayingGuitar")
    p.add_argument("--show-videos", type=int, default=3, help="videos shown in the grid")
    p.add_argument("--show-frames", type=int, default=4, help="frames shown per video")
    p.add_argument("--device", default="cpu")
    return p


@command
def main(args):
    cfg, _ = config.settings(config.StatsConfig, args.profile, flags=args)
    return pca_keys.figure5(cfg, [c for c in args.checkpoints.split(",") if c],
                            [s for s in args.labels.split(",") if s], args.out, data_root=args.data_root,
                            class_name=args.class_name, device=args.device, show_videos=args.show_videos,
                            show_frames=args.show_frames)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
