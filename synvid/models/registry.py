"""Model size table and builders named like the official VideoMAE registry (PROTOCOLS §2.1)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from synvid.errors import BadInput

from .classifier import VideoClassifier
from .videomae import PretrainVideoMAE
from .vjepa import PretrainVJEPA


@dataclass(frozen=True)
class Size:
    depth: int
    dim: int
    heads: int
    decoder_dim: int
    decoder_heads: int
    decoder_depth: int = 4  # VM run_mae_pretraining.py default; K400 ViT-L/H scripts pass 12


# PROTOCOLS §2.1 (VM modeling_pretrain.py / modeling_finetune.py registries); `tiny` is ours for tests and smoke.
SIZES: dict[str, Size] = {
    "tiny": Size(2, 64, 2, 32, 2, decoder_depth=1),
    "small": Size(12, 384, 6, 192, 3),
    "base": Size(12, 768, 12, 384, 6),
    "large": Size(24, 1024, 16, 512, 8),
    "huge": Size(32, 1280, 16, 640, 8),
}
_NAME = re.compile(r"^(pretrain_videomae|pretrain_vjepa|vit)_(\w+?)_patch(\d+)_(\d+)$")
_PRETRAIN_KW = {"decoder_depth", "num_frames", "img_size", "tubelet_size", "drop_path", "grad_checkpointing"}
_VJEPA_KW = {"predictor_dim", "predictor_depth", "num_mask_kinds", "loss_exp", "num_frames", "img_size",
             "tubelet_size", "drop_path", "grad_checkpointing"}
_CLS_KW = {"num_classes", "num_frames", "img_size", "tubelet_size", "drop_path", "dropout", "init_scale",
           "grad_checkpointing"}


def names() -> list[str]:
    """All builder names, e.g. `pretrain_videomae_base_patch16_224`, `vit_small_patch16_224`."""
    return [f"{kind}_{size}_patch16_224" for kind in ("pretrain_videomae", "pretrain_vjepa", "vit") for size in SIZES]


def encoder_name(name: str, kind: str) -> str:
    """The same encoder size under another builder kind: ('pretrain_videomae_base_patch16_224', 'pretrain_vjepa')
    -> 'pretrain_vjepa_base_patch16_224'. PretrainConfig.model names the encoder size for every objective."""
    m = _NAME.match(name)
    if m is None or m.group(2) not in SIZES:
        raise BadInput(f"unknown model {name!r}; known: {', '.join(names())}")
    return f"{kind}_{m.group(2)}_patch{m.group(3)}_{m.group(4)}"


def patch_size(name: str) -> int:
    """The spatial patch of a builder name (`..._patch8_64` -> 8): the data's tube-mask window follows it."""
    m = _NAME.match(name)
    if m is None or m.group(2) not in SIZES:
        raise BadInput(f"unknown model {name!r}; known: {', '.join(names())}")
    return int(m.group(3))


def build(name: str, **kw) -> nn.Module:
    """Build a model by official name. `img_size` defaults to the 224 of the name; patch is 16."""
    m = _NAME.match(name)
    if m is None or m.group(2) not in SIZES:
        raise BadInput(f"unknown model {name!r}; known: {', '.join(names())}")
    kind, size, patch, img = m.group(1), SIZES[m.group(2)], int(m.group(3)), int(m.group(4))
    allowed = {"pretrain_videomae": _PRETRAIN_KW, "pretrain_vjepa": _VJEPA_KW}.get(kind, _CLS_KW)
    bad = sorted(set(kw) - allowed)
    if bad:
        raise TypeError(f"{name}: unsupported argument(s) {bad}; allowed: {sorted(allowed)}")
    kw.setdefault("img_size", img)
    if kind == "pretrain_videomae":
        kw.setdefault("decoder_depth", size.decoder_depth)
        return PretrainVideoMAE(depth=size.depth, dim=size.dim, heads=size.heads, decoder_dim=size.decoder_dim,
                                decoder_heads=size.decoder_heads, patch=patch, **kw)
    if kind == "pretrain_vjepa":
        return PretrainVJEPA(depth=size.depth, dim=size.dim, heads=size.heads, patch=patch, **kw)
    return VideoClassifier(depth=size.depth, dim=size.dim, heads=size.heads, patch=patch, **kw)
