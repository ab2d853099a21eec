"""Soft targets and their loss for supervised training on clips (PROTOCOLS §2.3; VM `run_class_finetuning.py`
with timm's `Mixup` and `SoftTargetCrossEntropy`): label smoothing, MixUp/CutMix over repeated augmentations,
and the soft-target cross-entropy that fine-tuning and both linear probes minimise."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision import tv_tensors
from torchvision.transforms import v2


def soft_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """timm SoftTargetCrossEntropy: mean over the batch of -sum(targets * log_softmax(logits))."""
    return torch.sum(-targets * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


def soft_targets(labels: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    """One-hot with label smoothing folded in (timm: off = eps / C, on = 1 - eps + eps / C)."""
    off = smoothing / num_classes
    return F.one_hot(labels, num_classes).float() * (1.0 - smoothing) + off


def flatten_repeats(clips: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[B,R,...] -> [R*B,...] repetition-major (v0a, v1a, ..., v0b, v1b, ...). torchvision's MixUp/CutMix pair
    sample i with i-1 (roll), so VM's video-major order (v0a, v0b, ...) would mix half the batch with the other
    view of the same video (same label); in this order a pair shares a video only when B = 1, as with timm's flip."""
    return clips.transpose(0, 1).flatten(0, 1), labels.repeat(clips.shape[1])


def build_mixing(cfg, num_classes: int):
    """torchvision v2 MixUp/CutMix, one of them per batch with prob 0.5 each (timm Mixup mode 'batch',
    switch_prob 0.5, prob 1.0). Returns fn(videos [B,3,T,H,W], labels [B]) -> (videos, soft targets [B,C])."""
    choices = []
    if cfg.mixup > 0:
        choices.append(v2.MixUp(alpha=cfg.mixup, num_classes=num_classes))
    if cfg.cutmix > 0:
        choices.append(v2.CutMix(alpha=cfg.cutmix, num_classes=num_classes))
    if len(choices) == 2:
        mixer = v2.RandomChoice(choices, p=[1 - cfg.mixup_switch_prob, cfg.mixup_switch_prob])
    else:
        mixer = choices[0] if choices else None

    def apply(videos: torch.Tensor, labels: torch.Tensor):
        if mixer is None:
            return videos, soft_targets(labels, num_classes, cfg.label_smoothing)
        # v2 mixes along dim 0 and cuts the last two dims, so [B,3,T,H,W] works as a batch of "videos"
        mixed, target = mixer(tv_tensors.Video(videos), labels)
        target = target * (1.0 - cfg.label_smoothing) + cfg.label_smoothing / num_classes  # linear: = timm order
        return mixed.as_subclass(torch.Tensor), target
    return apply
