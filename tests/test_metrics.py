"""Tests of synvid.metrics (PROTOCOLS §5.3, §5.4)."""
import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from synvid import metrics


def test_frechet_closed_form_diagonal():
    # For diagonal Gaussians: |dmu|^2 + sum (s1 + s2 - 2 sqrt(s1 s2)).
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.5])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert metrics.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-9)
    assert metrics.frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(9.0 + 1.0)


def test_frechet_matches_pytorch_fid():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 16)), rng.normal(0.3, 1.5, size=(150, 16)) @ rng.normal(size=(16, 16))
    s1, s2 = metrics.feature_stats(a), metrics.feature_stats(b)
    ours = metrics.frechet_distance(*s1, *s2)
    assert ours == pytest.approx(calculate_frechet_distance(*s1, *s2), rel=1e-10)
    assert metrics.frechet_distance(*s1, *s1) == pytest.approx(0.0, abs=1e-6)


def test_frechet_shape_error():
    with pytest.raises(ValueError, match="shape mismatch"):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def power_law_images(alpha, n=4, size=128, seed=0):
    """uint8 grey-as-RGB images whose amplitude spectrum is |f|^-alpha with random phase."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(size)[:, None], np.fft.fftfreq(size)[None, :]
    radius = np.sqrt(fy ** 2 + fx ** 2)
    radius[0, 0] = 1.0
    out = []
    for _ in range(n):
        phase = np.fft.fft2(rng.normal(size=(size, size)))
        phase /= np.abs(phase)
        img = np.real(np.fft.ifft2(phase * radius ** -alpha))
        img = (img - img.min()) / (img.max() - img.min()) * 255
        out.append(np.repeat(np.rint(img)[..., None], 3, axis=-1))
    return np.stack(out).astype(np.uint8)


@pytest.mark.parametrize("alpha", [0.8, 1.3, 2.0])
def test_spectrum_recovers_alpha(alpha):
    frames = power_law_images(alpha)
    alphas = metrics.spectrum_exponents(frames)
    assert alphas.shape == (4,) and np.nanmean(alphas) == pytest.approx(alpha, abs=0.05)


def test_color_kl():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(4, 16, 16, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) // 2 + np.array([60, 10, 0]), 0, 255).astype(np.uint8)
    assert metrics.color_kl(a, a) == pytest.approx(0.0, abs=1e-9)
    kab, kba = metrics.color_kl(a, b), metrics.color_kl(b, a)
    assert kab > 0.1 and kab == pytest.approx(kba, rel=1e-12)
    with pytest.raises(ValueError, match="uint8"):
        metrics.color_kl(a.astype(np.float32), b)


def test_covariance_log_det_and_rank():
    rng = np.random.default_rng(0)
    narrow, wide = rng.normal(0, 0.1, size=(100, 8)), rng.normal(0, 1.0, size=(100, 8))
    full = metrics.covariance_log_det(wide)
    assert full["rank"] == full["dim"] == 8
    assert full["log_det"] > metrics.covariance_log_det(narrow)["log_det"]
    assert full["log_det"] == pytest.approx(np.linalg.slogdet(np.cov(wide, rowvar=False))[1])
    assert metrics.covariance_log_det(np.ones((10, 3))) == {"log_det": float("-inf"), "rank": 0, "dim": 3}


def test_static_set_diversity_is_minus_inf_with_its_rank():
    # A static set: the 16 frames of each of 5 videos are one image, so 80 samples span only a 4-d affine space
    # of the 8-d features. The rank says so and the log-det is -inf, not slogdet's finite rounding value.
    rng = np.random.default_rng(1)
    static = np.repeat(rng.normal(size=(5, 8)), 16, axis=0)
    assert metrics.covariance_log_det(static) == {"log_det": float("-inf"), "rank": 4, "dim": 8}
    moving = static + rng.normal(0, 0.5, size=static.shape)
    assert metrics.covariance_log_det(moving)["rank"] == 8
    assert np.isfinite(metrics.covariance_log_det(moving)["log_det"])
