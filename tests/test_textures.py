"""Texture generators (TEXTURES.md §5): statistics, determinism, orientation structure. Small sizes only."""
import numpy as np
import pytest
import torch

from synvid import metrics, textures
from synvid.textures import generated, measure, pyramid, statistical, stylegan
from synvid.textures.stylegan_bank import highfreq_bank, oriented_bank


_slope = metrics.spectrum_slope         # TEXTURES.md §5 definition (also Figure 4's)


@pytest.fixture(scope="module")
def stat64():
    return statistical.generate(range(6), seed=3, size=64)


def test_wmm_table_matches_spec():
    # TEXTURES.md §1.2c table: std / kurtosis of the truncated generalised Gaussian.
    p, _, sd = statistical.wmm_table(1, 0.4)
    x = np.arange(-200, 200.25, 0.5)
    assert sd == pytest.approx(61.6, abs=0.1)
    assert (p * x ** 4).sum() / sd ** 4 == pytest.approx(4.7, abs=0.1)
    assert statistical.wmm_table(2, 0.8)[2] == pytest.approx(34.6, abs=0.1)
    assert statistical.wmm_table(8, 0.6)[2] == pytest.approx(115, abs=1)


def test_pyramid_gains_and_reconstruction():
    x = torch.randn(4, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    hi, bands, lo = pyramid.build(x, 2)
    assert [b.std().item() for b in (bands[0][0], bands[1][0])] == pytest.approx([0.255, 0.253], abs=0.02)
    err = (pyramid.reconstruct(hi, bands, lo) - x).abs().max() / x.abs().max()
    assert err < 0.03          # sp3 is not a perfect-reconstruction pyramid (~1%)


def test_statistical_deterministic_and_range(stat64):
    assert stat64.dtype == torch.uint8 and stat64.shape == (6, 64, 64, 3)
    assert torch.equal(statistical.generate([4], seed=3, size=64)[0], stat64[4])
    assert (stat64.amin(dim=(1, 2, 3)) == 0).all() and (stat64.amax(dim=(1, 2, 3)) == 255).all()
    assert not torch.equal(statistical.generate([4], seed=4, size=64)[0], stat64[4])


@pytest.mark.slow
def test_statistical_slope_follows_s():
    # 128^2: at 64^2 the 4..N/4 fitting band is too narrow for a stable correlation.
    ids = range(12)
    imgs = statistical.generate(ids, seed=0, size=128).float().mean(-1).numpy()
    slopes = np.array([_slope(g) for g in imgs])
    s = np.array([statistical.draw_params(0, k, 128)["s"] for k in ids])
    assert 0.3 < slopes.mean() < 2.0                  # §5.1: 1.0 +- 0.3 at 256 (p5-p95 0.6-1.5)
    assert np.corrcoef(s, slopes)[0, 1] > 0.5         # §5.1: strong positive correlation with s


def test_statistical_colour_and_kurtosis(stat64):
    x = stat64.float()
    means = x.mean(dim=(1, 2)).numpy()
    assert 60 < means.mean() < 200                    # §5.1: channel means about 130 (sd 25)
    kurt = [measure.kurt_dog(g, 1) for g in x.mean(-1).numpy()]
    assert np.median(kurt) > 3.0                      # §5.1: heavy tails, kurtDoG(1) median 4-5


def test_colour_step_matches_reference():
    # §5.1: before the inverse PCA each decorrelated channel has exactly the reference's sorted values.
    p = statistical.draw_params(1, 0, 32)
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    out = statistical._match(x, torch.from_numpy(p["ref"]["sorted"])[None])
    assert torch.equal(out.flatten(-2).sort(-1).values[0], torch.from_numpy(p["ref"]["sorted"]))


def test_stylegan_bank_norms():
    norms = oriented_bank().flatten(1).norm(dim=1)[:20]
    assert norms[[0, 4]].tolist() == pytest.approx([2.449, 2.449], abs=1e-3)
    assert norms[[8, 9, 10]].tolist() == pytest.approx([2.828, 1.981, 2.375], abs=1e-3)
    assert torch.equal(oriented_bank()[20:], -oriented_bank()[:20])


# The 40 filters of StyleGAN-High-freq, rows top to bottom, in the original's order: printed by running `get_wavelets()`
# of mbaradad/learning_with_noise a31abe3 `generate_datasets/stylegan/stylegan2-ada-pytorch/training/
# network_randomized.py` lines 23-83 unchanged (Pillow 13.0.0, numpy float64 input). Only the values are kept here.
_HIGHFREQ_ORIGINAL = [
    "+0- +0- +0-", "+-- +0- ++-", "+-- ++- ++-", "--- +0- +++",
    "--- 000 +++", "--- -0+ +++", "--+ -++ +++", "--+ -0+ -++",
    "-0+ -0+ -0+", "-++ -0+ --+", "-++ --+ --+", "+++ -0+ ---",
    "+++ 000 ---", "+++ +0- ---", "++- +-- ---", "++- +0- +--",
    "+-+ +-+ +-+", "-+- -+- -+-", "+-+ +-+ +-+", "-+- -+- -+-",
    "-++ +-+ ++-", "+-- -+- --+", "+++ --- +++", "--- +++ ---",
    "+++ --- +++", "--- +++ ---", "+++ --- +++", "--- +++ ---",
    "++- +-+ -++", "--+ -+- +--", "+-+ +-+ +-+", "-+- -+- -+-",
    "000 0+0 000", "000 0-0 000", "--- -+- ---", "+++ +-+ +++",
    "0+0 +++ 0+0", "0-0 --- 0-0", "-+- +++ -+-", "+-+ --- +-+",
]


def test_stylegan_highfreq_bank_is_the_originals():
    # Lines are the sign of the raw crop (16-19: 0 and 22.5 deg give the same vertical line); the 45/135/225/315
    # deg edges (2, 6, 10, 14) have no zero tap because of the float32 mean removal, as in the original.
    value = {"+": 1.0, "0": 0.0, "-": -1.0}
    want = torch.tensor([[[value[c] for c in row] for row in f.split()] for f in _HIGHFREQ_ORIGINAL])
    assert torch.equal(highfreq_bank(), want)


def test_stylegan_deterministic_nonconstant():
    a = generated.generate("stylegan", 3, seed=1, size=32)
    assert a.shape == (3, 32, 32, 3)
    assert torch.equal(generated.generate("stylegan", [2], seed=1, size=32)[0], a[2])
    assert all(t.float().std() > 5 for t in a)
    assert not torch.equal(a[0], a[1])
    h = generated.generate("stylegan_highfreq", 2, seed=1, size=32)
    assert h.float().std() > 5 and not torch.equal(h[0], a[0])


def test_stylegan_orientation_energy():
    # Oriented structure: spectral energy concentrates in a few of 8 orientation wedges (a white/isotropic
    # image would give ~1/8 each). We require the strongest wedge to hold clearly more than its share.
    imgs = generated.generate("stylegan", 6, seed=0, size=64).float().mean(-1).numpy()
    n = 64
    yy, xx = np.indices((n, n)) - n // 2
    ang = np.mod(np.arctan2(yy, xx), np.pi)
    wedge = np.minimum((ang / (np.pi / 8)).astype(int), 7)
    ring = (np.hypot(xx, yy) > 4) & (np.hypot(xx, yy) < n / 2)
    top = []
    for g in imgs:
        power = np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean()))) ** 2
        e = np.array([power[ring & (wedge == w)].sum() for w in range(8)])
        top.append(e.max() / e.sum())
    assert np.median(top) > 0.2


def test_dynamic_texture_walk():
    v = stylegan.dynamic_video([5], 3, seed=0, size=32, step=0.1)[0]
    assert v.shape == (3, 32, 32, 3)
    assert torch.equal(v[0], generated.generate("stylegan", [5], seed=0, size=32)[0])
    d01 = (v[0].float() - v[1].float()).abs().mean()
    other = (v[0].float() - generated.generate("stylegan", [6], seed=0, size=32)[0].float()).abs().mean()
    assert 0 < d01 < other                            # consecutive frames are related, not unrelated
    dyn = generated.DynamicStyleGAN(seed=0, size=32, pool_size=8)
    assert all(torch.equal(dyn.get_at([5], t)[0], v[t]) for t in range(3))


def test_source_protocol():
    src = textures.source("statistical", seed=0, size=32, pool_size=10)
    assert src.pool_size == 10 and src.size == 32
    out = src.get(torch.tensor([3, 1, 3]), "cpu")
    assert out.shape == (3, 32, 32, 3) and torch.equal(out[0], out[2])
    with pytest.raises(IndexError):
        src.get(torch.tensor([10]), "cpu")
    with pytest.raises(ValueError, match="imagenet"):
        textures.source("imagenet", size=32)
