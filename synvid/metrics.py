"""Dataset statistics of Section 5 (PROTOCOLS.md §5): Fréchet distance, image spectrum, colour, diversity.

All functions are pure numpy on already-extracted features or uint8 frames, so they can be tested on CPU
without any network weights.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg
from skimage.color import rgb2lab


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), with the safeguards of pytorch-fid
    `calculate_frechet_distance` (PROTOCOLS §5.3): float64, eps*I on both covariances when sqrtm is not
    finite, and the real part kept only if the imaginary diagonal is ~0 (atol 1e-3).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {sigma1.shape}/{sigma2.shape}")
    diff = mu1 - mu2
    # scipy >= 1.16 deprecates `disp`; plain sqrtm returns the matrix and non-finite entries on failure.
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        # Singular product: regularise both covariances, as pytorch-fid does.
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm has imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def feature_stats(features, unbiased: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of features [N, D]: unbiased (1/(N-1), np.cov) as pytorch-fid's FID, or the population
    covariance (1/N) as StyleGAN-V's FVD (PROTOCOLS §5.2)."""
    feats = np.asarray(features, np.float64)
    return feats.mean(axis=0), np.cov(feats, rowvar=False, bias=not unbiased)


def _grey(frames: np.ndarray) -> np.ndarray:
    """uint8 [N,H,W,3] -> float64 [N,H,W] luma (ITU-R BT.601 weights)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [N,H,W,3], got shape {frames.shape}")
    return frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def spectrum_exponents(frames, fmin: float = 0.05, fmax: float = 0.4) -> np.ndarray:
    """Per-frame exponent alpha of amplitude ~ A / |f|^alpha (PROTOCOLS §5.4, inferred default).

    Grey-level FFT magnitude, radially averaged over integer radii; least squares in log-log over radial
    frequencies in [fmin, fmax] cycles/pixel (fmax < 0.5 excludes the corners, fmin > 0 excludes DC and the
    lowest, window-dominated bins). Returns float64 [N].
    """
    grey = _grey(frames)
    n, h, w = grey.shape
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    radius = np.sqrt(fy ** 2 + fx ** 2)
    side = min(h, w)
    bins = np.rint(radius * side).astype(np.int64)  # integer radius in units of 1/side cycles/pixel
    freqs = np.arange(bins.max() + 1) / side
    keep = (freqs >= fmin) & (freqs <= fmax)
    if keep.sum() < 3:
        raise ValueError(f"frames of {h}x{w} px give too few mid frequencies to fit a slope")
    counts = np.bincount(bins.ravel())
    alphas = np.empty(n)
    for i in range(n):
        amp = np.abs(np.fft.fft2(grey[i] - grey[i].mean()))
        radial = np.bincount(bins.ravel(), weights=amp.ravel()) / np.maximum(counts, 1)
        x, y = np.log(freqs[keep]), np.log(np.maximum(radial[keep], 1e-12))
        slope = np.polyfit(x, y, 1)[0]
        alphas[i] = -slope
    return alphas


def spectrum_exponent(frames, **kw) -> float:
    """Mean fitted alpha over frames uint8 [N,H,W,3] (see `spectrum_exponents` for the spread)."""
    return float(spectrum_exponents(frames, **kw).mean())


def lab_gaussian(frames) -> tuple[np.ndarray, np.ndarray]:
    """Mean [3] and covariance [3,3] of the L*a*b* pixels of uint8 frames [N,H,W,3] (sRGB, D65)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames [N,H,W,3], got {frames.dtype} {frames.shape}")
    lab = rgb2lab(frames.reshape(-1, 1, 3)).reshape(-1, 3)
    return lab.mean(axis=0), np.cov(lab, rowvar=False)


def gaussian_kl(mu_p, sigma_p, mu_q, sigma_q) -> float:
    """KL(P || Q) for multivariate Gaussians (PROTOCOLS §5.4)."""
    d = mu_q - mu_p
    inv_q = np.linalg.inv(sigma_q)
    _, logdet_q = np.linalg.slogdet(sigma_q)
    _, logdet_p = np.linalg.slogdet(sigma_p)
    return float(0.5 * (np.trace(inv_q @ sigma_p) + d @ inv_q @ d - len(d) + logdet_q - logdet_p))


def color_kl(frames_a, frames_b) -> float:
    """Symmetric KL = KL(A||B) + KL(B||A) (the SUM, not the mean) of the L*a*b* Gaussians of two frame sets."""
    pa, pb = lab_gaussian(frames_a), lab_gaussian(frames_b)
    return gaussian_kl(*pa, *pb) + gaussian_kl(*pb, *pa)


def log_det_diversity(features) -> float:
    """Log-determinant of the covariance of features [N, D] (PROTOCOLS §5.4, §7 Q18: slogdet, not det).

    Returns -inf when the covariance is singular (fewer samples than dimensions, or constant features).
    """
    _, cov = feature_stats(features)
    sign, logdet = np.linalg.slogdet(np.atleast_2d(cov))
    return float(logdet) if sign > 0 else float("-inf")
