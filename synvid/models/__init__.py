"""Models for synvid: builders, VideoMAE (tube mask, normalised-pixel target), V-JEPA, checkpoint loading."""
from .classifier import VideoClassifier
from .registry import SIZES, build, encoder_name, names
from .videomae import PretrainVideoMAE, patchify, pixel_targets, pretrain_loss, tube_mask
from .vit import sinusoid_table
from .vjepa import PretrainVJEPA


def load_pretrained(model, path, allow_missing=(), allow_unexpected=(), **kw):
    """See `synvid.checkpoint.load_pretrained` (ours / official VideoMAE / HF transformers layouts)."""
    from synvid.checkpoint import load_pretrained as _load
    return _load(model, path, allow_missing=allow_missing, allow_unexpected=allow_unexpected, **kw)


def export_official(model, path):
    """See `synvid.checkpoint.export_official`."""
    from synvid.checkpoint import export_official as _export
    return _export(model, path)


__all__ = ["build", "names", "SIZES", "tube_mask", "pixel_targets", "pretrain_loss", "patchify", "sinusoid_table",
           "load_pretrained", "export_official", "PretrainVideoMAE", "PretrainVJEPA", "VideoClassifier", "encoder_name"]
