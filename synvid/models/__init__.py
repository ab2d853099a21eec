"""Models for synvid: builders, VideoMAE (tube mask, normalised-pixel target), V-JEPA, checkpoint loading."""
from .classifier import VideoClassifier
from .registry import SIZES, build, encoder_name, names, patch_size
from .videomae import PretrainVideoMAE, patchify, pixel_targets, pretrain_loss, tube_mask
from .vit import sinusoid_table
from .vjepa import PretrainVJEPA


__all__ = ["build", "names", "SIZES", "tube_mask", "pixel_targets", "pretrain_loss", "patchify", "sinusoid_table",
           "PretrainVideoMAE", "PretrainVJEPA", "VideoClassifier", "encoder_name"]
