"""UCF101-P corruptions (synvid.corruptions) and the qscale fix of write_video."""
import numpy as np
import pytest
import torch

from synvid import corruptions
from synvid.video_io import write_video


def _video(t=4, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.randint(40, 216, (t, h // 4, w // 4, 3), generator=g, dtype=torch.uint8)
    return base.repeat_interleave(4, 1).repeat_interleave(4, 2).contiguous()  # blocky: blur visibly changes it


def test_registry_order_and_families():
    assert corruptions.NAMES == ("translate", "rotate", "static_rotate", "motion_blur", "defocus_blur", "zoom_blur",
                                 "glass_blur", "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise",
                                 "jpeg", "codec1", "codec2")
    assert sum(len(v) for v in corruptions.FAMILIES.values()) == 14
    assert all(len(r.params) == 5 for r in corruptions.REGISTRY.values())


@pytest.mark.parametrize("name", corruptions.NAMES)
def test_each_severity_changes_keeps_shape_and_is_deterministic(name):
    video = _video()
    for s in range(1, 6):
        out = corruptions.apply(name, video, s, seed=1)
        assert out.shape == video.shape and out.dtype == torch.uint8
        assert not torch.equal(out, video), (name, s)
    assert torch.equal(corruptions.apply(name, video, 3, seed=5), corruptions.apply(name, video, 3, seed=5))


def test_seed_changes_random_corruptions():
    video = _video()
    for name in ("gaussian_noise", "rotate", "glass_blur", "motion_blur", "impulse_noise"):
        assert not torch.equal(corruptions.apply(name, video, 3, 0), corruptions.apply(name, video, 3, 1)), name


def test_uint8_range_path():
    """0-255 input stays a faithful 0-255 image (no float*255 ToPILImage bug): mild noise keeps the mean."""
    video = torch.full((2, 32, 32, 3), 128, dtype=torch.uint8)
    out = corruptions.apply("gaussian_noise", video, 1, 0).float()
    assert abs(out.mean().item() - 128) < 3 and 10 < out.std().item() < 30  # sigma .08 * 255 ~ 20


@pytest.mark.parametrize("name", ["gaussian_noise", "speckle_noise", "impulse_noise", "shot_noise",
                                  "defocus_blur", "jpeg"])
def test_severity_monotone(name):
    video = _video(h=64, w=64)
    errors = [(corruptions.apply(name, video, s, 0).float() - video.float()).abs().mean().item() for s in range(1, 6)]
    assert errors == sorted(errors), errors


def test_rotate_matches_pil():
    from PIL import Image

    video = _video(t=1, h=32, w=48)
    ours = corruptions.apply("static_rotate", video, 3, 0)[0].numpy()
    pil = np.asarray(Image.fromarray(video[0].numpy()).rotate(30, resample=Image.NEAREST))
    assert (ours == pil).all(-1).mean() > 0.9


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown corruption"):
        corruptions.apply("fog", _video(), 3, 0)
    with pytest.raises(ValueError, match="severity"):
        corruptions.apply("jpeg", _video(), 6, 0)
    with pytest.raises(ValueError, match="uint8"):
        corruptions.apply("jpeg", _video().float(), 3, 0)


@pytest.mark.parametrize("codec", ["mpeg4", "mpeg2video"])
def test_write_video_qscale_changes_size(tmp_path, codec):
    frames = torch.randint(0, 256, (6, 64, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    sizes = [write_video(tmp_path / f"{q}.avi", frames, codec=codec, crf=None, qscale=q).stat().st_size
             for q in (2, 31)]
    assert sizes[0] > 2 * sizes[1], sizes


def test_where_each_corruption_acts():
    """PROTOCOLS §4.3 / Q13: the codecs re-encode the whole video, the 12 others can act on each test view; the 13
    UCF101-P sets are all but glass_blur (PROTOCOLS §4.1, §4.5)."""
    assert corruptions.WHOLE_VIDEO == ("codec1", "codec2")
    assert set(corruptions.PER_VIEW) | set(corruptions.WHOLE_VIDEO) == set(corruptions.NAMES)
    assert len(corruptions.PER_VIEW) == 12
    assert set(corruptions.NAMES) - set(corruptions.BENCHMARK) == {"glass_blur"} and len(corruptions.BENCHMARK) == 13


# --- speed-up and the rules themselves: each per-view rule restated on its own (float64 formulas; the
# rotations with one sampling grid per frame, the code before the speed-up), fed the draws `apply` makes from its
# seed, and truncated to uint8 as the reference does
def _rotated(x, degrees):
    """PIL's rotation (counter-clockwise, nearest, black fill) of float32 [T,3,H,W] by degrees [T], frame by frame."""
    h, w, a = x.shape[2], x.shape[3], degrees * np.pi / 180
    theta = torch.stack([torch.stack([a.cos(), -a.sin() * h / w, 0 * a], 1),
                         torch.stack([a.sin() * w / h, a.cos(), 0 * a], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def _reference(name, video, severity, seed):
    """uint8 [T,H,W,3] -> np.uint8 [T,H,W,3]: the corruption's formula, independent of synvid.corruptions."""
    c, g = corruptions.REGISTRY[name].params[severity - 1], _generator(name, severity, seed)
    t, h, w, _ = video.shape
    x, shape = video.permute(0, 3, 1, 2).double() / 255, (t, 3, h, w)
    if name == "translate":                       # one (dy, dx) in [0, c) per clip; content moves up-left
        dy, dx = torch.randint(0, c, (2,), generator=g).tolist()
        y = torch.zeros_like(x)
        y[:, :, :h - dy, :w - dx] = x[:, :, dy:, dx:]
    elif name == "rotate":                        # an angle in [-c, c] per frame
        y = _rotated(x.float(), torch.randint(-c, c + 1, (t,), generator=g).float()).double()
    elif name == "static_rotate":
        y = _rotated(x.float(), torch.full((t,), float(c))).double()
    elif name == "gaussian_noise":
        y = x + c * torch.randn(shape, generator=g).double()
    elif name == "speckle_noise":
        y = x + x * c * torch.randn(shape, generator=g).double()
    elif name == "impulse_noise":                 # salt or pepper (1:1) with probability c
        hit, salt = torch.rand(shape, generator=g) < c, torch.rand(shape, generator=g) < 0.5
        y = torch.where(hit, salt.double(), x)
    return np.uint8(np.clip(y.numpy(), 0, 1) * 255).transpose(0, 2, 3, 1)


BLURS = ("motion_blur", "defocus_blur", "zoom_blur")


@pytest.mark.parametrize("name", [n for n in corruptions.PER_VIEW if not corruptions.REGISTRY[n].uint8_io
                                  and n not in ("shot_noise", "glass_blur") + BLURS])
# shot_noise: other draws, same law (test below); glass_blur and the blurs of synvid.blurs: new rules, each tested
# against its reference (below and tests/test_blurs.py)
def test_fast_code_reproduces_the_reference_formula(name):
    """The fast code (one grid for all frames, the uint8 <-> float path of apply) gives the formula's output within
    1 uint8 level (float32 against float64), on random noise and blocky views, square and not, all severities."""
    views = [torch.randint(0, 256, (3, 40, 56, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)),
             _video(t=3, h=48, w=48, seed=2)]
    for view in views:
        for severity in range(1, 6):
            new, ref = corruptions.apply(name, view, severity, 7).numpy(), _reference(name, view, severity, 7)
            diff = np.abs(new.astype(int) - ref)
            assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (name, severity, diff.max())
            assert not np.array_equal(ref, view.numpy()), (name, severity)      # the rule changed the view


@pytest.mark.parametrize("c", corruptions.REGISTRY["shot_noise"].params)
def test_shot_noise_table_sampler_is_poisson(c):
    """The table sampler draws Poisson(l/255 * c) for each uint8 level l by inverting the CDF at u ~ U[0, 1): each
    draw k has CDF(k-1) <= u < CDF(k) (u redrawn from the same seed; float32 tolerance), and the histogram is the
    exact pmf (total variation at the sampling-noise level), for dark, mid and white levels and every severity."""
    for level in (0, 1, 77, 255):
        n, rate = 200_000, float(torch.tensor(level / 255, dtype=torch.float32) * c)
        k = corruptions._poisson_of_levels(torch.full((n,), float(level)), c, torch.Generator().manual_seed(3)).long()
        u = torch.rand(n, generator=torch.Generator().manual_seed(3)).double()
        support = torch.arange(int(c + 12 * c ** .5 + 20), dtype=torch.float64)
        log_rate = torch.xlogy(support, torch.tensor(rate, dtype=torch.float64))
        pmf = torch.exp(log_rate - rate - torch.lgamma(support + 1))
        cdf = torch.cat([torch.zeros(1, dtype=torch.float64), pmf.cumsum(0)])   # cdf[k + 1] = P(X <= k)
        assert (cdf[k] <= u + 1e-6).all() and (u < cdf[k + 1] + 1e-6).all(), (level, c)
        seen = torch.bincount(k, minlength=len(support))[:len(support)].double() / n
        assert 0.5 * (seen - pmf).abs().sum() < 0.012, (level, c)


def test_shot_noise_through_apply_and_off_level_input(monkeypatch):
    """Through `apply` (uint8 levels) the table sampler runs (torch.poisson is not called) and the noise has the
    Poisson variance; float input off the 256 levels falls back to torch.poisson."""
    poisson = torch.poisson
    with monkeypatch.context() as patch:
        patch.setattr(torch, "poisson", lambda *a, **k: pytest.fail("torch.poisson called"))
        out = corruptions.apply("shot_noise", torch.full((2, 64, 64, 3), 128, dtype=torch.uint8), 3, 0).double() / 255
    assert torch.poisson is poisson
    c, p = 50, 128 / 255
    assert abs(out.mean() - p) < 0.003 and abs(out.var() - p / c) < 0.05 * p / c
    x = torch.full((1, 3, 32, 32), 0.3)  # 0.3 * 255 is not a level
    y = corruptions.shot_noise(x, 50, torch.Generator().manual_seed(0))
    assert torch.equal(y, torch.poisson(x * 50, generator=torch.Generator().manual_seed(0)) / 50)


def test_grid_sampling_batch_layouts_agree(monkeypatch):
    """static_rotate samples all planes as one batch on one thread and per frame on several: same output."""
    view = torch.randint(0, 256, (3, 40, 56, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    one = corruptions.apply("static_rotate", view, 4, 0)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert torch.equal(one, corruptions.apply("static_rotate", view, 4, 0))


def test_benchmark_runs_both_modes(monkeypatch, capsys):
    """benchmarks/bench_corruptions.py on tiny shapes: a row per corruption in its mode, machine and estimate."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "bench_corruptions.py"
    spec = importlib.util.spec_from_file_location("bench_corruptions", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(sys, "argv", ["bench", "--frames", "2", "--crop", "32", "--video-shape", "4", "48", "64",
                                      "--repeats", "1"])
    bench.main()
    out = capsys.readouterr().out
    assert "CPUs" in out and "threads" in out and "estimate" in out and "3783 videos x 15 views" in out
    assert all(f"{n:16s}" in out for n in corruptions.NAMES)
    assert out.count("ms/view") == 12 and out.count("ms/video") == 2


# --- each rule against the reference's own formula, restated in NumPy on tiny arrays
def _generator(name, severity, seed):
    import zlib
    return torch.Generator().manual_seed(zlib.crc32(f"{name}/{severity}/{seed}".encode()))


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_noise_truncates_like_the_reference(severity):
    """SCH/YU: Image.fromarray(np.uint8(np.clip(x + N(0, c), 0, 1) * 255)) on x = frame / 255: truncation, not
    rounding. The same normal draws (regenerated from apply's seed) through the reference formula in float64."""
    video = torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(9))
    c = corruptions.REGISTRY["gaussian_noise"].params[severity - 1]
    noise = torch.randn((2, 3, 16, 16), generator=_generator("gaussian_noise", severity, 4)).numpy()
    x = video.permute(0, 3, 1, 2).numpy() / 255.0
    ref = np.uint8(np.clip(x + c * noise.astype(np.float64), 0, 1) * 255).transpose(0, 2, 3, 1)
    ours = corruptions.apply("gaussian_noise", video, severity, 4).numpy()
    diff = np.abs(ours.astype(int) - ref)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3          # float32 vs float64 at level boundaries only
    rounded = np.uint8(np.round(np.clip(x + c * noise.astype(np.float64), 0, 1) * 255)).transpose(0, 2, 3, 1)
    assert (ours != rounded).mean() > 0.3                          # rounding would differ on about half


def _yu_glass_loop(x, offsets, delta, size):
    """YU video_pertube.py glass_blur's loop, statement for statement, on a uint8 HxWx3 array (offsets as drawn)."""
    k = iter(offsets)
    for h in range(size - delta, delta, -1):
        for w in range(size - delta, delta, -1):
            dx, dy = next(k)
            h_prime, w_prime = h + dy, w + dx
            x[h, w], x[h_prime, w_prime] = x[h_prime, w_prime], x[h, w]   # numpy views: a copy, not a swap
    return x


@pytest.mark.parametrize("delta", [1, 2, 4])
def test_glass_blur_copy_is_yus_sequential_loop(delta):
    """The numba pass gives YU's loop bit for bit (aliasing: x[h', w'] keeps its value; later pixels read copied
    ones; the border bands of width delta are never written)."""
    size = 12
    frame = np.random.default_rng(delta).integers(0, 256, (size, size, 3), dtype=np.uint8)
    n = (size - 2 * delta) ** 2
    offsets = np.random.default_rng(7).integers(-delta, delta, (n, 2))
    ref = _yu_glass_loop(frame.copy(), offsets, delta, size)
    ours = corruptions._glass_copy(frame.copy()[None], offsets.reshape(1, 1, size - 2 * delta, size - 2 * delta, 2),
                                   delta)[0]
    assert np.array_equal(ours, ref)
    a = size - delta
    assert np.array_equal(ours[:delta + 1], frame[:delta + 1]) and np.array_equal(ours[a + 1:], frame[a + 1:])
    # a parallel gather is not the same once offsets reach ahead (dy or dx up to delta - 1 >= 1): with delta = 1
    # every source lies at lower indices, not yet visited by the descending loop, so then it is
    gather = frame.copy()
    hs, ws = np.meshgrid(np.arange(size - delta, delta, -1), np.arange(size - delta, delta, -1), indexing="ij")
    gather[hs, ws] = frame[hs + offsets[:, 1].reshape(hs.shape), ws + offsets[:, 0].reshape(hs.shape)]
    assert np.array_equal(gather, ref) == (delta == 1)


def test_glass_blur_matches_the_reference_end_to_end():
    """The whole of YU's glass_blur (skimage gaussian, np.uint8 truncation, the loop, gaussian again; float result
    rounded to the nearest level here) with the offsets apply draws."""
    from skimage.filters import gaussian
    video = _video(t=1, h=16, w=16, seed=5)
    sigma, delta, iters = corruptions.REGISTRY["glass_blur"].params[2]
    g = _generator("glass_blur", 3, 0)
    n = 16 - 2 * delta
    offsets = torch.randint(-delta, delta, (iters, 1, n, n, 2), generator=g).numpy()
    x = np.uint8(gaussian(video[0].numpy() / 255., sigma=sigma, channel_axis=-1) * 255)
    for i in range(iters):
        x = _yu_glass_loop(x, offsets[i, 0].reshape(-1, 2), delta, 16)
    ref = np.clip(gaussian(x / 255., sigma=sigma, channel_axis=-1), 0, 1) * 255
    ours = corruptions.apply("glass_blur", video, 3, 0)[0].numpy()
    assert np.abs(ours - ref).max() <= 0.5 + 1e-6
