"""Optimiser pieces shared by pre-training, fine-tuning and probing (PROTOCOLS §2.2-2.3).

Matches VM `optim_factory.py` (weight-decay exclusions, layer-wise lr decay) and VM `utils.cosine_scheduler`
(per-step linear warm-up from 0, then cosine to the final value).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from synvid.errors import BadInput

NO_DECAY_NAMES = ("pos_embed", "cls_token", "mask_token")  # VM optim_factory skip list


def _no_decay(name: str, param: torch.Tensor, skip: set[str]) -> bool:
    # VM get_parameter_groups: 1-D tensors (norms, q/v biases), names ending in ".bias", and the skip list
    return param.ndim <= 1 or name.endswith(".bias") or name in skip or name.split(".")[-1] in NO_DECAY_NAMES


def param_groups(model: nn.Module, weight_decay: float, layer_decay: float | None = None) -> list[dict]:
    """AdamW parameter groups with "lr_scale" (and "weight_decay"), as VM `optim_factory.get_parameter_groups`.

    With `layer_decay`, the model must provide `num_layers` and `layer_id(name)` (0 = patch_embed,
    i+1 = blocks.i, depth+1 = the rest); the scale of layer k is decay^(depth+1-k) (PROTOCOLS §2.3).
    Frozen parameters (requires_grad False) are left out.
    """
    skip = set(getattr(model, "no_weight_decay", lambda: set())())
    if layer_decay is not None and not hasattr(model, "layer_id"):
        raise TypeError(f"{type(model).__name__} has no layer_id(); layer-wise lr decay needs a classifier model")
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        layer, scale = 0, 1.0
        if layer_decay is not None:
            layer = model.layer_id(name)
            scale = layer_decay ** (model.num_layers + 1 - layer)
        nd = _no_decay(name, p, skip)
        key = (layer, nd)
        if key not in groups:
            groups[key] = {"params": [], "names": [], "weight_decay": 0.0 if nd else weight_decay,
                           "lr_scale": scale, "layer_id": layer}
        groups[key]["params"].append(p)
        groups[key]["names"].append(name)
    return [groups[k] for k in sorted(groups)]


def cosine_schedule(base_value: float, final_value: float, epochs: int, steps_per_epoch: int,
                    warmup_epochs: int, warmup_start: float = 0.0) -> np.ndarray:
    """Per-step values: linear warm-up from `warmup_start` then cosine to `final_value` (VM utils.cosine_scheduler).

    Length is exactly epochs * steps_per_epoch (the official `--epochs 3201` off-by-one work-around is not needed).
    """
    if steps_per_epoch < 1 or epochs < 1:
        raise BadInput(f"schedule needs epochs >= 1 and steps_per_epoch >= 1, got {epochs}, {steps_per_epoch}")
    total = epochs * steps_per_epoch
    warm = min(warmup_epochs * steps_per_epoch, total)
    warmup = np.linspace(warmup_start, base_value, warm) if warm > 0 else np.array([])
    i = np.arange(total - warm)
    cosine = final_value + 0.5 * (base_value - final_value) * (1 + np.cos(math.pi * i / max(len(i), 1)))
    return np.concatenate([warmup, cosine])


def scaled_lr(base_lr: float, total_batch: int) -> float:
    """Linear scaling rule of VM (PROTOCOLS §2.2): lr = base_lr * total_batch / 256."""
    return base_lr * total_batch / 256


def build_adamw(groups: list[dict], lr: float, betas=(0.9, 0.95), eps: float = 1e-8, fused: bool | None = None):
    """AdamW over `groups` (extra keys such as lr_scale/names are kept in param_groups; torch ignores them)."""
    if fused is None:
        fused = all(p.is_cuda for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, fused=fused or None)


def apply_schedule(optimizer: torch.optim.Optimizer, lr: float, weight_decay: float | None = None) -> None:
    """Set each group's lr to lr * lr_scale (and, if given, decayed groups' weight decay) for this step."""
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)
        if weight_decay is not None and g["weight_decay"] > 0:
            g["weight_decay"] = weight_decay
