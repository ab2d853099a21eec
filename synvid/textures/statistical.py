"""Statistical image model "Spectrum + Color + WMM" (Baradad et al. 2021, MATLAB image_model.m).

Implements TEXTURES.md §1 exactly as specified there: a random Mondrian colour reference in a PCA basis, a
separable 1/(|fx|^(s+d) + |fy|^(s-d)) magnitude, generalised-Gaussian wavelet-marginal targets truncated at
+-200 with width 4^scale on the sp3 pyramid, 10 iterations spectrum -> WMM -> colour, joint min-max to uint8.
Per-image parameters come from rng.np_rng(seed, k) on CPU; the iterations run batched in torch (float64).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import uniform_filter

from synvid.textures import pyramid
from synvid.textures.rng import np_rng

ITERATIONS = 10                                   # TEXTURES.md §1.1
_TABLE_X = np.arange(-200.0, 200.0 + 0.25, 0.5)   # §1.2c: 801 points, truncated at +-200


def wmm_table(scale: int, r: float) -> tuple[np.ndarray, float, float]:
    """Target density exp(-|x/4^scale|^r) on the +-200 grid -> (probabilities, mean, std)."""
    p = np.exp(-np.abs(_TABLE_X / 4.0 ** scale) ** r)
    p = p / p.sum()
    mean = float((p * _TABLE_X).sum())
    return p, mean, float(np.sqrt((p * (_TABLE_X - mean) ** 2).sum()))


def _quantiles(p: np.ndarray, count: int) -> np.ndarray:
    cdf = np.cumsum(p) - p / 2
    return np.interp((np.arange(count) + 0.5) / count, cdf, _TABLE_X)


def colour_reference(n: int, rng: np.random.Generator) -> dict:
    """Mondrian reference (§1.2a): palette, column runs, zero-padded box blur, U(0,10) noise, PCA."""
    ncolors = 3 + int(np.floor(20 * rng.random()))
    palette = rng.random((ncolors, 3))
    prop = 0.001 + rng.random(ncolors)
    counts = rng.multinomial(n * n, prop / prop.sum())     # §1.5: multinomial counts are allowed
    labels = np.repeat(np.arange(ncolors), counts).reshape(n, n).T   # sorted labels, column-major fill
    img = palette[labels] * 256.0
    m = int(np.ceil(10 * rng.random()))
    m = max(m, 1)
    img = np.stack([uniform_filter(img[..., c], size=m, mode="constant", cval=0.0) for c in range(3)], -1)
    img = img + rng.uniform(0, 10, img.shape)               # per-pixel, per-channel noise (must keep)
    img = (img - img.min()) * (256.0 / (img.max() - img.min()))
    flat = img.reshape(-1, 3)
    mean = flat.mean(0)
    centred = flat - mean
    evals, evecs = np.linalg.eigh(centred.T @ centred)
    v = evecs[:, np.argsort(evals)[::-1]]
    return {"mean": mean, "v": v, "sorted": np.sort(centred @ v, axis=0).T, "ncolors": ncolors, "blur": m}


def draw_params(seed: int, k: int, n: int) -> dict:
    """All per-image random parameters of texture k (spectrum, WMM targets, colour reference, start noise)."""
    rng = np_rng(seed, k, "statistical")
    ref = colour_reference(n, rng)
    s, d = rng.uniform(0.5, 3.5), rng.normal(0.0, abs(3.5 - 0.5) / 60)
    f = np.abs(np.fft.fftfreq(n))
    mag = 1.0 / (np.finfo(float).eps + f[None, :] ** (s + d) + f[:, None] ** (s - d))
    mag[0, 0] = 0.0
    levels = pyramid.num_scales(n)
    # band order: high-pass residual, then level l orientation b; scale = n / band height.
    sizes = [n] + [n >> lev for lev in range(levels) for _ in range(4)]
    wmm = []
    for _c in range(3):
        row = []
        for h in sizes:
            p, mu, sd = wmm_table(n // h, rng.uniform(0.4, 0.8))
            row.append((_quantiles(p, h * h), mu, sd))
        wmm.append(row)
    start = rng.uniform(0, 256, (3, n, n))
    return {"s": s, "d": d, "mag": mag, "wmm": wmm, "ref": ref, "start": start, "levels": levels}


def _standardise(x: torch.Tensor, mean, std) -> torch.Tensor:
    mu = x.mean(dim=(-2, -1), keepdim=True)
    sd = x.std(dim=(-2, -1), keepdim=True, unbiased=False).clamp_min(1e-12)
    return (x - mu) / sd * std + mean


def _match(x: torch.Tensor, sorted_target: torch.Tensor) -> torch.Tensor:
    """Exact rank-based quantile matching (§1.3 allows it): x [..., h, w], target [..., h*w] ascending."""
    flat = x.flatten(-2)
    idx = torch.argsort(flat, dim=-1, stable=True)
    return torch.empty_like(flat).scatter_(-1, idx, sorted_target).view_as(x)


def _col(values, device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, device=device)[..., None, None]


def _wmm_targets(params: list[dict], device) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per band: (sorted target values [B, 3, h*w], target mean [B, 3, 1, 1], target std), built once."""
    out = []
    for j in range(len(params[0]["wmm"][0])):
        tq = torch.from_numpy(np.stack([[p["wmm"][c][j][0] for c in range(3)] for p in params])).to(device)
        mu = _col([[p["wmm"][c][j][1] for c in range(3)] for p in params], device)
        sd = _col([[p["wmm"][c][j][2] for c in range(3)] for p in params], device)
        out.append((tq, mu, sd))
    return out


def _wmm_step(x: torch.Tensor, levels: int, targets: list) -> torch.Tensor:
    """Impose the WMM marginals on the high-pass residual and every oriented band; low-pass untouched."""
    hi, bands, lo = pyramid.build(x, levels)
    flat = [hi] + [b for level in bands for b in level]
    out = [_standardise(_match(_standardise(band, mu, sd), tq), mu, sd)
           for band, (tq, mu, sd) in zip(flat, targets)]
    it = iter(out[1:])
    return pyramid.reconstruct(out[0], [[next(it) for _ in range(4)] for _ in bands], lo)


def synthesise(params: list[dict], device="cpu") -> torch.Tensor:
    """Run the 10 iterations for a batch of parameter dicts -> uint8 [B, n, n, 3]."""
    x = torch.from_numpy(np.stack([p["start"] for p in params])).to(device)
    mag = torch.from_numpy(np.stack([p["mag"] for p in params]))[:, None].to(device)
    ref = torch.from_numpy(np.stack([p["ref"]["sorted"] for p in params])).to(device)
    targets = _wmm_targets(params, device)
    for _ in range(ITERATIONS):
        mu = x.mean(dim=(-2, -1), keepdim=True)
        sd = x.std(dim=(-2, -1), keepdim=True, unbiased=False)
        phase = torch.fft.fft2(x - mu)
        phase = phase / phase.abs().clamp_min(1e-300)
        x = _standardise(torch.fft.ifft2(phase * mag).real, mu, sd)
        x = _wmm_step(x, params[0]["levels"], targets)
        x = _match(x, ref)
    v = torch.from_numpy(np.stack([p["ref"]["v"] for p in params])).to(device)
    mean = torch.from_numpy(np.stack([p["ref"]["mean"] for p in params])).to(device)
    rgb = torch.einsum("bij,bjhw->bhwi", v, x) + mean[:, None, None, :]
    lo = rgb.amin(dim=(1, 2, 3), keepdim=True)
    hi = rgb.amax(dim=(1, 2, 3), keepdim=True)
    return torch.round((rgb - lo) / (hi - lo).clamp_min(1e-12) * 255).to(torch.uint8)


def generate(ids, *, seed: int = 0, size: int = 256, device="cpu") -> torch.Tensor:
    """Statistical textures for the given ids -> uint8 [K, size, size, 3] (same pixels alone or batched)."""
    return synthesise([draw_params(seed, int(k), size) for k in ids], device)
