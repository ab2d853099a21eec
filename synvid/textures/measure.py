"""Texture statistics with the exact definitions of TEXTURES.md §5, so measured numbers compare with the spec
(the slope is `synvid.metrics.spectrum_slope`, the estimator Figure 4 uses too).

    summary(uint8 [n, S, S, 3]) -> dict of slope, kurtDoG(1), kurtDoG(4), channel and clipping statistics
Used by the tests (thresholds) and by `benchmarks/bench_textures.py --stats N` (docs/textures.md numbers).
"""
from __future__ import annotations

import numpy as np

from synvid.metrics import spectrum_slope     # the slope of §5: one estimator for textures and Figure 4


def kurtosis(x: np.ndarray) -> float:
    """Pearson kurtosis (a Gaussian gives 3)."""
    x = x - x.mean()
    return float((x ** 4).mean() / (x ** 2).mean() ** 2)


def kurt_dog(gray: np.ndarray, sigma: float) -> float:
    """§5 kurtDoG(sigma): kurtosis of G_sigma(gray) - G_2sigma(gray), Gaussian blurs in wrap mode."""
    from scipy.ndimage import gaussian_filter
    return kurtosis(gaussian_filter(gray, sigma, mode="wrap") - gaussian_filter(gray, 2 * sigma, mode="wrap"))


def summary(images: np.ndarray, seed: int = 0) -> dict:
    """§5 statistics of uint8 [n, S, S, 3] images (gray = channel mean); medians with a bootstrap 95% interval
    (2000 resamples), because kurtosis is heavy-tailed across images (§5: compare medians)."""
    images = np.asarray(images)
    gray = images.astype(np.float64).mean(-1)
    sl = np.array([spectrum_slope(g) for g in gray])
    k1, k4 = (np.array([kurt_dog(g, s) for g in gray]) for s in (1, 4))
    rng = np.random.default_rng(seed)
    boot = lambda v: np.percentile([np.median(v[rng.integers(0, len(v), len(v))])   # noqa: E731
                                    for _ in range(2000)], [2.5, 97.5]).round(2).tolist()
    pixels = images.reshape(len(images), -1, 3).astype(np.float64)
    corr = [np.abs(np.corrcoef(p.T)[np.triu_indices(3, 1)]).mean() for p in pixels]
    return {"n": len(images), "slope_mean": sl.mean(), "slope_sd": sl.std(),
            "slope_p5_p95": np.percentile(sl, [5, 95]).tolist(),
            "kurt_dog1_median": np.median(k1), "kurt_dog1_ci": boot(k1), "kurt_dog1_p95": np.percentile(k1, 95),
            "kurt_dog4_median": np.median(k4), "kurt_dog4_ci": boot(k4),
            "channel_means": pixels.mean(1).mean(0).tolist(), "channel_std": pixels.std(1).mean(),
            "clipped_0": (images == 0).mean(), "clipped_255": (images == 255).mean(),
            "abs_channel_corr": float(np.mean(corr))}
