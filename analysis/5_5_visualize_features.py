"""§5.5 / Figure 5: PCA (3 components -> RGB) of the last-layer keys of each checkpoint on videos of one class.

Example (paper):
  python analysis/5_5_visualize_features.py --profile paper --out runs/analysis/fig5 --device cuda \
      --checkpoints runs/paper/pretrain/moving_shapes/last.pth,videomae_k400.pth \
      --labels "moving shapes,K400" --data-root UCF101/UCF-101 --class-name PlayingGuitar
"""
import argparse

from synvid import config, models
from synvid.checkpoint import PRETRAIN_TO_CLASSIFIER, CheckpointError, load_pretrained
from synvid.runs import mark_done
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


def main(args):
    ckpts = [c for c in args.checkpoints.split(",") if c]
    labels = [s for s in args.labels.split(",") if s] or [c.rstrip("/").split("/")[-1] for c in ckpts]
    if len(labels) != len(ckpts):
        raise SystemExit(f"error: {len(labels)} labels for {len(ckpts)} checkpoints")
    cfg = config.from_args(config.StatsConfig, args)
    try:
        clips = pca_keys.load_clips(pca_keys.class_videos(args.data_root, args.class_name, cfg.pca_videos),
                                    cfg.pca_frames, cfg.pca_input_size)
        config.save_config(args.out, cfg, checkpoints=ckpts, labels=labels, class_name=args.class_name)
        rows = []
        for ck in ckpts:
            model = models.build(cfg.pca_model, num_frames=cfg.pca_num_frames, img_size=cfg.pca_input_size)
            load_pretrained(model, ck, **PRETRAIN_TO_CLASSIFIER)
            rows.append(pca_keys.key_pca_frames(model, clips, cfg.pca_num_frames, args.device))
    except (ValueError, FileNotFoundError, CheckpointError) as e:
        raise SystemExit(f"error: {e}")
    png = pca_keys.save_grid(clips, rows, labels, f"{args.out}/fig5_key_pca.png", args.show_videos, args.show_frames)
    mark_done(args.out, {"png": str(png), "videos": len(clips), "frames": cfg.pca_frames, "labels": labels})


if __name__ == "__main__":
    main(get_args_parser().parse_args())
