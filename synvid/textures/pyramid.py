"""Spatial steerable pyramid with the sp3 filters (matlabPyrTools buildSpyr, circular edges), in FFT form.

TEXTURES.md §1.4: with circular boundaries every correlation is exact in the Fourier domain (correlation =
multiply by conj(H), the synthesis adjoint = multiply by H). The taps in sp3_filters.npz are the published
Simoncelli-Karasaridis sp3 filters (as shipped by pyrtools `sp3_filters`), band filters already reshaped.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from synvid.errors import BadInput

_FILTERS = Path(__file__).with_name("sp3_filters.npz")


def num_scales(n: int) -> int:
    """3 levels at 128^2 and 4 at 256^2 as the original (TEXTURES.md §1.2c); the coarsest band stays 32^2."""
    if n < 32 or n & (n - 1):
        raise BadInput(f"statistical textures need a power-of-two size >= 32, got {n}")
    return int(np.log2(n)) - 4


@lru_cache(maxsize=32)
def _dft(name: str, n: int, index: int = -1) -> np.ndarray:
    taps = np.load(_FILTERS)[name]
    taps = taps[index] if index >= 0 else taps
    k = taps.shape[0]
    arr = np.zeros((n, n))
    arr[:k, :k] = taps
    return np.fft.fft2(np.roll(arr, (-(k // 2), -(k // 2)), axis=(0, 1)))


def _h(name: str, n: int, device, index: int = -1) -> torch.Tensor:
    return torch.from_numpy(_dft(name, n, index)).to(device=device, dtype=torch.complex128)


def _corr(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    return torch.fft.ifft2(torch.fft.fft2(x.to(torch.float64)) * h.conj()).real


def _conv(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    return torch.fft.ifft2(torch.fft.fft2(x.to(torch.float64)) * h).real


def build(x: torch.Tensor, levels: int) -> tuple[torch.Tensor, list[list[torch.Tensor]], torch.Tensor]:
    """x [..., n, n] -> (high-pass residual, bands[level][orientation], low-pass residual)."""
    n = x.shape[-1]
    hi = _corr(x, _h("hi0filt", n, x.device))
    lo = _corr(x, _h("lo0filt", n, x.device))
    bands = []
    for _ in range(levels):
        m = lo.shape[-1]
        bands.append([_corr(lo, _h("bfilts", m, x.device, b)) for b in range(4)])
        lo = _corr(lo, _h("lofilt", m, x.device))[..., ::2, ::2]
    return hi, bands, lo


def reconstruct(hi: torch.Tensor, bands: list[list[torch.Tensor]], lo: torch.Tensor) -> torch.Tensor:
    """Adjoint of `build` (sp3 reconstruction is not perfect, ~1% error, as in the original)."""
    for level in reversed(bands):
        m = level[0].shape[-1]
        up = torch.zeros(*lo.shape[:-2], m, m, dtype=lo.dtype, device=lo.device)
        up[..., ::2, ::2] = lo
        lo = _conv(up, _h("lofilt", m, lo.device))
        for b, band in enumerate(level):
            lo = lo + _conv(band, _h("bfilts", m, lo.device, b))
    n = lo.shape[-1]
    return _conv(lo, _h("lo0filt", n, lo.device)) + _conv(hi, _h("hi0filt", n, lo.device))
