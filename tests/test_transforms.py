"""MultiScaleCrop (VM GroupMultiScaleCrop), normalisation and test views against hand-worked examples."""
import pytest
import torch

from synvid.transforms import IMAGENET_MEAN, IMAGENET_STD, MultiScaleCrop, normalize, short_side_resize, three_crops


def test_crop_sizes_hand_worked():
    crop = MultiScaleCrop(224)
    assert crop.crop_sizes(256, 256) == [256, 224, 192, 168]  # 256*.875 = 224; 256*.66 = 168.96 -> 168
    assert crop.crop_sizes(320, 240) == [240, 210, 180, 158]  # base = short side 240; 158.4 -> 158
    assert MultiScaleCrop(224).crop_sizes(257, 300)[1] == 224   # int(257*.875) = 224 -> snaps (within 2 px)
    assert MultiScaleCrop(226).crop_sizes(256, 256)[1] == 226   # 224 is within 2 px of 226 -> snaps
    assert MultiScaleCrop(227).crop_sizes(256, 256)[1] == 224   # 3 px away -> kept


def test_pairs_max_distort_one():
    pairs = MultiScaleCrop(224).pairs(256, 256)
    assert len(pairs) == 10  # |i - j| <= 1 over 4 scales: 4 + 3 + 3
    assert (256, 256) in pairs and (224, 256) in pairs and (168, 192) in pairs and (168, 256) not in pairs


def test_thirteen_offsets():
    offs = MultiScaleCrop.offsets(320, 240, 180, 180)  # steps (140//4, 60//4) = (35, 15)
    assert len(offs) == 13 and len(set(offs)) == 13
    assert offs[:5] == [(0, 0), (140, 0), (0, 60), (140, 60), (70, 30)]
    assert set(offs[5:]) == {(0, 30), (140, 30), (70, 60), (70, 0), (35, 15), (105, 15), (35, 45), (105, 45)}


def test_crop_output_deterministic_and_covers_choices():
    clip = torch.randint(0, 256, (3, 48, 64, 3), dtype=torch.uint8)
    crop = MultiScaleCrop(32)
    a = crop(clip, torch.Generator().manual_seed(3))
    b = crop(clip, torch.Generator().manual_seed(3))
    assert a.shape == (3, 32, 32, 3) and a.dtype == torch.uint8 and torch.equal(a, b)
    seen = {crop.params(64, 48, torch.Generator().manual_seed(s)) for s in range(400)}
    assert {(w, h) for _, _, w, h in seen} == set(crop.pairs(64, 48))
    # a square clip at the output size whose chosen crop is the full frame comes back unchanged
    square = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
    g = next(torch.Generator().manual_seed(s) for s in range(100)
             if crop.params(32, 32, torch.Generator().manual_seed(s))[2:] == (32, 32))
    assert torch.equal(crop(square, g), square)

def test_normalize():
    clip = torch.full((2, 4, 4, 3), 255, dtype=torch.uint8)
    x = normalize(clip)
    assert x.shape == (3, 2, 4, 4)
    for c in range(3):
        assert x[c].flatten()[0].item() == pytest.approx((1 - IMAGENET_MEAN[c]) / IMAGENET_STD[c], rel=1e-6)


def test_short_side_resize_and_three_crops():
    clip = torch.randint(0, 256, (2, 240, 320, 3), dtype=torch.uint8)
    r = short_side_resize(clip, 224)
    assert r.shape == (2, 224, 298, 3)  # PROTOCOLS §2.4: 320x240 -> 298x224
    crops = three_crops(r, 224)
    assert [c.shape for c in crops] == [(2, 224, 224, 3)] * 3
    assert torch.equal(crops[1], r[:, :, 37:261]) and torch.equal(crops[2], r[:, :, 74:298])
    portrait = short_side_resize(torch.zeros(1, 40, 20, 3, dtype=torch.uint8), 10)
    assert portrait.shape == (1, 20, 10, 3) and three_crops(portrait, 10)[2].shape == (1, 10, 10, 3)
    with pytest.raises(ValueError, match="smaller"):
        three_crops(clip, 300)
