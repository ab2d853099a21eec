"""synvid.models: shapes, tube masking, sinusoid table, normalised-pixel target and loss (PROTOCOLS §2.1-2.2)."""
import math

import pytest
import torch

import synvid.models as M
from synvid.transforms import IMAGENET_MEAN, IMAGENET_STD

T, S = 4, 32  # 4 frames of 32x32 -> window (2, 2, 2), 8 tokens


def tiny_pretrain(**kw):
    return M.build("pretrain_videomae_tiny_patch16_224", num_frames=T, img_size=S, **kw)


def tiny_classifier(**kw):
    return M.build("vit_tiny_patch16_224", num_classes=5, num_frames=T, img_size=S, **kw)


def test_registry_names_and_errors():
    assert "pretrain_videomae_base_patch16_224" in M.names() and "vit_large_patch16_224" in M.names()
    assert (M.SIZES["base"].depth, M.SIZES["base"].dim, M.SIZES["base"].heads) == (12, 768, 12)  # PROTOCOLS §2.1
    assert (M.SIZES["small"].decoder_dim, M.SIZES["small"].decoder_heads) == (192, 3)
    with pytest.raises(ValueError, match="unknown model"):
        M.build("vit_giant_patch16_224")
    with pytest.raises(TypeError, match="unsupported"):
        M.build("vit_tiny_patch16_224", decoder_depth=2)


def test_base_parameter_count_matches_official():
    # VM `vit_base_patch16_224` with a 400-class head: 86,534,800 parameters (the ~86.5M of the model zoo)
    m = M.build("vit_base_patch16_224", num_classes=400)
    assert sum(p.numel() for p in m.parameters()) == 86_534_800


@pytest.mark.parametrize("ratio", [0.75, 0.9, 0.5])
def test_tube_mask_exact_count_and_tubes(ratio):
    g = torch.Generator().manual_seed(0)
    mask = M.tube_mask(16, (8, 14, 14), ratio, generator=g)
    assert mask.shape == (16, 8 * 196) and mask.dtype == torch.bool
    assert (mask.sum(1) == 8 * int(ratio * 196)).all()  # 1,176 masked at 0.75, exactly per clip
    slots = mask.view(16, 8, 196)
    assert (slots == slots[:, :1]).all()  # the same spatial mask in every time slot
    assert not (slots[0, 0] == slots[1, 0]).all()  # different per sample
    again = M.tube_mask(16, (8, 14, 14), ratio, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mask, again)


def test_sinusoid_table_values():
    tab = M.sinusoid_table(10, 6)
    assert tab.shape == (1, 10, 6)
    for p in (0, 3, 9):
        for j in range(6):
            angle = p / 10000 ** (2 * (j // 2) / 6)
            ref = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(tab[0, p, j].item() - ref) < 1e-6


def test_pretrain_forward_shapes_and_no_table_in_state_dict():
    m = tiny_pretrain()
    x = torch.randn(2, 3, T, S, S)
    mask = M.tube_mask(2, m.window, 0.75)
    pred = m(x, mask)
    assert pred.shape == (2, 2 * 3, 1536)  # 3 of 4 spatial patches x 2 slots masked
    assert not any("pos" in k for k in m.state_dict())
    assert m.decoder.head.out_features == 3 * 2 * 16 * 16
    with pytest.raises(ValueError, match="tokens"):
        m(torch.randn(2, 3, T, 48, 48), mask)


def test_classifier_api():
    m = tiny_classifier(drop_path=0.1).eval()
    x = torch.randn(2, 3, T, S, S)
    assert m(x).shape == (2, 5)
    feats = m.forward_features(x)
    assert feats.shape == (2, 64) and torch.allclose(m.head(feats), m(x), atol=1e-6)
    assert m.last_block_keys(x).shape == (2, 8, 64)
    assert m.layer_id("patch_embed.proj.weight") == 0 and m.layer_id("blocks.1.mlp.fc1.bias") == 2
    assert m.layer_id("head.weight") == m.num_layers + 1 == 3
    assert 0.5 * 0.02e-3 < m.head.weight.std() < 1.5 * 0.02e-3  # init_scale 0.001 after timm trunc-normal(0.02)
    assert set(m.state_dict()) >= {"fc_norm.weight", "head.bias", "blocks.1.attn.q_bias"}


def test_grad_checkpointing_matches():
    torch.manual_seed(0)
    m = tiny_pretrain()
    x, mask = torch.randn(2, 3, T, S, S), M.tube_mask(2, m.window, 0.75)
    loss = M.pretrain_loss(m(x, mask), M.pixel_targets(x, mask))
    g0 = torch.autograd.grad(loss, list(m.parameters()))
    ckpt = tiny_pretrain(grad_checkpointing=True)
    ckpt.load_state_dict(m.state_dict())
    loss2 = M.pretrain_loss(ckpt(x, mask), M.pixel_targets(x, mask))
    g1 = torch.autograd.grad(loss2, list(ckpt.parameters()))
    assert torch.allclose(loss, loss2) and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g0, g1))


def test_pixel_target_against_hand_computation():
    torch.manual_seed(1)
    raw = torch.rand(1, 3, T, S, S)  # pixels in [0, 1]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1)
    videos = (raw - mean) / std
    mask = torch.zeros(1, 8, dtype=torch.bool)
    mask[0, [1, 6]] = True  # token 1 = (t0,h0,w1); token 6 = (t1,h1,w0)
    target = M.pixel_targets(videos, mask)
    assert target.shape == (1, 2, 1536)
    for row, (t, h, w) in enumerate([(0, 0, 1), (1, 1, 0)]):
        ref = torch.empty(2, 16, 16, 3)
        for c in range(3):
            cube = raw[0, c, 2 * t:2 * t + 2, 16 * h:16 * h + 16, 16 * w:16 * w + 16].double()
            vals = cube.flatten()
            sd = math.sqrt(((vals - vals.mean()) ** 2).sum().item() / (vals.numel() - 1))  # unbiased
            ref[..., c] = ((cube - vals.mean()) / (sd + 1e-6)).float()
        assert torch.allclose(target[0, row], ref.flatten(), atol=1e-4)  # (dt, dy, dx, c), channel fastest
    pred = torch.zeros_like(target)
    assert torch.allclose(M.pretrain_loss(pred, target), (target ** 2).mean())
    with pytest.raises(ValueError, match="shape"):
        M.pretrain_loss(pred[:, :1], target)


def test_loss_decreases_on_repeated_batch():
    torch.manual_seed(0)
    m = tiny_pretrain()
    x = torch.randn(2, 3, T, S, S)
    mask = M.tube_mask(2, m.window, 0.75, generator=torch.Generator().manual_seed(0))
    target = M.pixel_targets(x, mask)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = M.pretrain_loss(m(x, mask), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_finetuning_init_is_timms_trunc_normal():
    """VM modeling_finetune.py: timm trunc_normal_(std=.02), cut at +-2 absolute, so effectively N(0, 0.02) (the
    old +-1 std cut gave 0.0108). A fresh ViT-B: every block Linear weight has std 0.020 +- 0.001, biases 0."""
    torch.manual_seed(0)
    m = M.build("vit_base_patch16_224", num_classes=101, num_frames=2, img_size=16)
    linears = [mod for mod in m.blocks.modules() if isinstance(mod, torch.nn.Linear)]
    assert len(linears) == 12 * 4
    for lin in linears:
        assert abs(float(lin.weight.detach().std()) - 0.02) < 0.001
        assert lin.bias is None or not lin.bias.any()
    assert float(m.head.weight.detach().abs().max()) > 0.02 * 0.001  # beyond the old +-1 std cut, x init_scale


def test_pretraining_init_is_unchanged():
    """VM modeling_pretrain.py: xavier-uniform Linear (std sqrt(2 / (fan_in + fan_out))), zero bias, and the mask
    token from its local trunc_normal_ cut at +-1 std (std 0.5377 x 0.02)."""
    torch.manual_seed(0)
    m = M.build("pretrain_videomae_small_patch16_224", num_frames=2, img_size=16)
    for lin in (mod for mod in m.modules() if isinstance(mod, torch.nn.Linear)):
        fan_out, fan_in = lin.weight.shape
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert float(lin.weight.abs().max()) <= bound
        assert abs(float(lin.weight.detach().std()) / math.sqrt(2 / (fan_in + fan_out)) - 1) < 0.05
        assert lin.bias is None or not lin.bias.any()
    token = m.mask_token.detach().flatten()
    assert float(token.abs().max()) <= 0.02 and abs(float(token.std()) / (0.5377 * 0.02) - 1) < 0.2
