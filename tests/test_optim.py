"""Optimiser groups, layer decay and the per-step schedule (PROTOCOLS §2.2-2.3)."""
import math

import numpy as np
import pytest
import torch

from synvid.models import build
from synvid.optim import apply_schedule, build_adamw, cosine_schedule, param_groups, scaled_lr


def test_schedule_length_warmup_and_cosine_end():
    s = cosine_schedule(1.0, 0.1, epochs=10, steps_per_epoch=7, warmup_epochs=2)
    assert len(s) == 70  # exactly epochs x steps (no 3201-epoch work-around)
    assert s[0] == 0.0 and np.allclose(np.diff(s[:14]), 1.0 / 13)  # linear warm-up from 0 to base (VM linspace)
    assert s[14] == pytest.approx(1.0)  # cosine starts at the base value
    rest = 56
    assert s[14 + 28] == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 28 / rest)))
    assert s[-1] == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 55 / rest)))
    assert s[-1] > 0.1 and s[-1] - 0.1 < 1e-3 and np.all(np.diff(s[14:]) <= 0)


def test_official_ucf101_schedule_numbers():
    # PROTOCOLS §2.2: 9,537 clips at total batch 192 -> 49 steps/epoch; lr 3e-4 x 192/256 = 2.25e-4
    assert 9537 // 192 == 49 and scaled_lr(3e-4, 192) == pytest.approx(2.25e-4)
    s = cosine_schedule(scaled_lr(3e-4, 192), scaled_lr(1e-5, 192), 3200, 49, 40)
    assert len(s) == 3200 * 49 and s.max() == pytest.approx(2.25e-4)


def test_no_decay_groups_pretrain_model():
    model = build("pretrain_videomae_tiny_patch16_224", num_frames=4, img_size=32)
    groups = param_groups(model, 0.05)
    decay = {n for g in groups if g["weight_decay"] > 0 for n in g["names"]}
    no_decay = {n for g in groups if g["weight_decay"] == 0 for n in g["names"]}
    assert "mask_token" in no_decay and "encoder.blocks.0.attn.q_bias" in no_decay
    assert all(n.endswith(".bias") or "norm" in n or n.endswith(("q_bias", "v_bias")) or n == "mask_token"
               for n in no_decay)
    assert "encoder.blocks.0.attn.qkv.weight" in decay and "encoder.patch_embed.proj.weight" in decay
    assert len(decay) + len(no_decay) == len(list(model.parameters()))
    assert all(g["lr_scale"] == 1.0 for g in groups)


def test_layer_decay_scales_vit_base_layout():
    model = build("vit_small_patch16_224", num_classes=5, num_frames=2, img_size=32)  # 12 blocks
    groups = param_groups(model, 0.05, layer_decay=0.7)
    scales = {g["layer_id"]: g["lr_scale"] for g in groups}
    assert len(scales) == 14 and len(set(scales.values())) == 14  # L + 2 layer ids, distinct scales
    assert scales[0] == pytest.approx(0.7 ** 13) and scales[1] == pytest.approx(0.7 ** 12)
    assert scales[12] == pytest.approx(0.7) and scales[13] == 1.0
    names = {g["layer_id"]: g["names"] for g in groups}
    assert any(n.startswith("patch_embed") for n in names[0]) and any(n.startswith("head") for n in names[13])
    opt = build_adamw(groups, lr=1e-3)
    apply_schedule(opt, 2e-3)
    for g in opt.param_groups:
        assert g["lr"] == pytest.approx(2e-3 * g["lr_scale"])


def test_layer_decay_needs_layer_ids():
    with pytest.raises(TypeError, match="layer_id"):
        param_groups(torch.nn.Linear(2, 2), 0.05, layer_decay=0.7)
