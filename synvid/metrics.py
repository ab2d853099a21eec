"""Dataset statistics of Section 5 (PROTOCOLS.md §5): Fréchet distance, image spectrum, colour, diversity.

All functions are pure numpy on already-extracted features or uint8 frames, so they can be tested on CPU
without any network weights.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg
from skimage.color import rgb2lab

from synvid.errors import BadInput


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), with the safeguards of pytorch-fid
    `calculate_frechet_distance` (PROTOCOLS §5.3): float64, eps*I on both covariances when sqrtm is not
    finite, and the real part kept only if the imaginary diagonal is ~0 (atol 1e-3).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise BadInput(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {sigma1.shape}/{sigma2.shape}")
    diff = mu1 - mu2
    # scipy >= 1.16 deprecates `disp`; plain sqrtm returns the matrix and non-finite entries on failure.
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        # Singular product: regularise both covariances, as pytorch-fid does.
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise BadInput(f"sqrtm has imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def feature_stats(features, unbiased: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of features [N, D]: unbiased (1/(N-1), np.cov) as pytorch-fid's FID, or the population
    covariance (1/N) as StyleGAN-V's FVD (PROTOCOLS §5.2)."""
    feats = np.asarray(features, np.float64)
    return feats.mean(axis=0), np.cov(feats, rowvar=False, bias=not unbiased)


def grey(frames: np.ndarray) -> np.ndarray:
    """uint8 [N,H,W,3] -> float64 [N,H,W]: the mean of the 3 channels (TEXTURES.md §5 "gray")."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise BadInput(f"expected frames [N,H,W,3], got shape {frames.shape}")
    return frames.astype(np.float64).mean(-1)


def _bands(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Radial frequency [H, W] of the FFT grid in cycles per image of the short side, and the band edges."""
    side = min(h, w)
    ky, kx = ((np.arange(n) + n // 2) % n - n // 2 for n in (h, w))     # FFT-order integer frequencies
    radius = np.hypot(ky[:, None] * (side / h), kx[None, :] * (side / w))
    edges = np.unique(np.round(np.logspace(np.log10(4), np.log10(side / 4), 20)).astype(int))
    if len(edges) < 4:
        raise BadInput(f"frames of {h}x{w} px give {max(len(edges) - 1, 0)} frequency bands between 4 and "
                       f"{side / 4:g} cycles/image; the spectrum fit needs 3 (use frames of >= 32 px)")
    return radius, edges


def spectrum_slope(gray: np.ndarray) -> float:
    """The one spectrum-exponent estimator (TEXTURES.md §5), used by the texture checks and by Figure 4 (§5.4):
    alpha of amplitude ~ A / |f|^alpha for one grey image [H, W].

    No window: |FFT| of (gray - its mean). Radial frequency in cycles per image of the short side. Bins: the
    annuli [lo, hi) between 20 log-spaced edges from 4 to side/4 cycles/image, rounded to unique integers
    (so every octave weighs about equally; DC, the lowest and the corner frequencies are left out); amplitude =
    mean |FFT| over the annulus, at frequency (lo + hi) / 2. Least-squares line of log amplitude on log
    frequency; returns -gradient. NaN for an image with no energy in some band (e.g. a flat frame)."""
    gray = np.asarray(gray, np.float64)
    radius, edges = _bands(*gray.shape)
    amp = np.abs(np.fft.fft2(gray - gray.mean()))
    f = (edges[:-1] + edges[1:]) / 2
    a = np.array([amp[(radius >= lo) & (radius < hi)].mean() for lo, hi in zip(edges[:-1], edges[1:])])
    if not (a > 0).all():
        return float("nan")
    return float(-np.polyfit(np.log(f), np.log(a), 1)[0])


def spectrum_exponents(frames) -> np.ndarray:
    """`spectrum_slope` of each frame of uint8 [N,H,W,3] (gray = channel mean) -> float64 [N]."""
    return np.array([spectrum_slope(g) for g in grey(frames)])


def lab_gaussian(frames) -> tuple[np.ndarray, np.ndarray]:
    """Mean [3] and covariance [3,3] of the L*a*b* pixels of uint8 frames [N,H,W,3] (sRGB, D65)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise BadInput(f"expected uint8 frames [N,H,W,3], got {frames.dtype} {frames.shape}")
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


def covariance_log_det(features) -> dict:
    """Diversity of §5.4: log-determinant (slogdet, PROTOCOLS §7 Q18) of the covariance of features [N, D], with
    the covariance's numerical rank (numpy `matrix_rank`: eigenvalues above D * eps * the largest).

    A rank below D (fewer distinct samples than dimensions, e.g. a static set whose 16 frames per video are one
    image, or constant features) returns log_det = -inf explicitly: slogdet of a singular matrix in floating point
    gives a large negative but finite rounding artefact instead (e.g. -5292 for a static set).
    Returns {"log_det": float, "rank": int, "dim": D}."""
    _, cov = feature_stats(features)
    cov = np.atleast_2d(cov)
    rank = int(np.linalg.matrix_rank(cov, hermitian=True))
    sign, logdet = np.linalg.slogdet(cov)
    singular = rank < len(cov) or sign <= 0
    return {"log_det": float("-inf") if singular else float(logdet), "rank": rank, "dim": int(len(cov))}
