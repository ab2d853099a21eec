"""Batched StyleGAN synthesis (TEXTURES.md §2): batch == alone, and the rank-1 form == the full modulated conv."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synvid import metrics
from synvid.textures import generated, measure, stylegan, stylegan_net, stylegan_noise


def _fir_upsample(x):
    """upfirdn2d up=2 as written in §2.2: zero insertion, pad (2, 1), separable [1,3,3,1]/4 FIR."""
    b, c, h, w = x.shape
    up = x.new_zeros(b * c, 1, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x.reshape(b * c, 1, h, w)
    fir = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=x.dtype) / 4
    up = F.conv2d(F.pad(up, (2, 1, 2, 1)), fir.view(1, 1, 1, 4))
    return F.conv2d(up, fir.view(1, 1, 4, 1)).view(b, c, 2 * h, 2 * w)


def _reference(d, g):
    """Textbook modulated conv with explicit W[o, i] = g_o F_k(i) (gains of random magnitude), one image."""
    bank = d["bank"].double()
    x = d["const"].double()
    noises = stylegan_noise.layer_noise([d])
    img, r = None, 0
    for j, L in enumerate(d["layers"]):
        cout = len(L["sign"])
        gain = L["sign"].double() * (0.1 + torch.rand(cout, generator=g, dtype=torch.float64))
        w = gain[:, None, None, None] * bank[L["pick"]][None] * L["styles"][0].double()[None, :, None, None]
        w = w / torch.sqrt(w.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        if L["up"]:
            x = _fir_upsample(x)
        y = F.conv2d(x, w, padding=1) + noises[j][0].double() + L["bias"].double()[:, None, None]
        x = math.sqrt(2) * F.relu(y)
        if j == 0 or not L["up"]:
            rw, rs = d["rgb"][r]
            r += 1
            out = torch.einsum("oc,bchw->bohw", rw.double() * rs[0].double()[None], x)
            img = out if img is None else _fir_upsample(img) + out
    return img


def test_upsample_matches_fir():
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(stylegan_net.upsample2d(x), _fir_upsample(x), atol=1e-12)


@pytest.mark.parametrize("variant", ["oriented", "highfreq"])
def test_rank1_batched_equals_full_modulated_conv(variant):
    d = stylegan.draw(4, 9, 16, variant)
    ref = _reference(d, torch.Generator().manual_seed(1))
    got = stylegan_net.synthesize([stylegan.draw(4, 2, 16, variant), d], [0, 0])[1:].double()
    assert (got - ref).abs().max() <= 1e-4 * ref.abs().max()


@pytest.mark.parametrize("threads", [1, 2])
def test_texture_in_batch_equals_alone(threads):
    # Bitwise on CPU: no batch-dependent kernels (bank_conv folds the batch into columns; per-map reductions).
    ids, before = [7, 0, 3], torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        alone = torch.stack([generated.generate("stylegan", [k], seed=6, size=32)[0] for k in ids])
        for batch in (2, 3):
            assert torch.equal(stylegan.generate(ids, seed=6, size=32, batch=batch), alone)
    finally:
        torch.set_num_threads(before)


def test_bank_conv_is_conv2d():
    z = torch.randn(3, 40, 9, 7, generator=torch.Generator().manual_seed(2))
    bank = stylegan.oriented_bank()
    assert torch.allclose(stylegan_net.bank_conv(z, bank), F.conv2d(z, bank[None], padding=1), atol=1e-5)


def test_pink_map_follows_power_law():
    # §2.2: amplitude 1/r^alpha; without the envelope the fitted spectral slope is alpha itself.
    g = torch.Generator().manual_seed(3)
    recipes = [stylegan_noise.draw_pink(128, g, envelope=False) for _ in range(4)]
    maps = stylegan_noise.pink_maps(recipes)
    assert maps.shape == (4, 128, 128) and torch.allclose(maps.std(dim=(1, 2)), torch.ones(4))
    for m, p in zip(maps.double().numpy(), recipes):
        assert metrics.spectrum_slope(m) == pytest.approx(p["alpha"], abs=0.1)


def test_oriented_statistics_small():
    # TEXTURES.md §5.2 at 256^2: slope 1.73 +- 0.34, kurtDoG(1) median 15-18. At 64^2 (measured: median
    # kurtDoG(1) 5.7-6.2, mean slope 1.6-1.85 over seeds 0-2, n=12) we check heavy tails and a steep spectrum.
    gray = generated.generate("stylegan", 12, seed=0, size=64).float().mean(-1).numpy()
    assert np.median([measure.kurt_dog(x, 1) for x in gray]) > 4.5        # Gaussian: 3
    assert 1.2 < np.mean([metrics.spectrum_slope(x) for x in gray]) < 2.3
