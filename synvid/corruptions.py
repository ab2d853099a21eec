"""UCF101-P corruptions (Schiappa et al. 2023; paper Figure 3; PROTOCOLS.md §4).

Every corruption takes uint8 [T, H, W, 3] in 0-255 and returns uint8 of the same shape (PROTOCOLS §4.3 / Q23:
not the float-through-ToPILImage path of the authors' test loader). Formulas defined on [0, 1] are computed in float
on [0, 1] and truncated back to uint8 as the reference does (`np.uint8(np.clip(x, 0, 1) * 255)`); ImageMagick's
motion blur quantises its own way (`synvid.blurs.magick_png8`: truncation, not rounding). Where they act is
the caller's choice (`synvid.robustness`): on each test view (the authors' hook) or on the full-resolution video
written as a file (`synvid.ucf101p_files`, the benchmark's files). All frames
are processed at once in torch; randomness comes from one `torch.Generator` seeded from (name, severity, seed), so a
call is deterministic. Parameters: PROTOCOLS §4.2 (SCH `core/video_perturb.py` = YU `video_pertube.py`; codecs from
SCH-VL `generate_noisy_videos.py`).
"""
from __future__ import annotations

import functools
import io
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit
from PIL import Image

from synvid import codecs
from synvid.blurs import defocus_blur, motion_blur, zoom_blur
from synvid.errors import BadInput


@dataclass(frozen=True)
class Corruption:
    family: str
    params: tuple              # one entry per severity 1..5
    fn: Callable               # fn(x_float [T,3,H,W] in [0,1] or uint8 video, param, generator) -> same
    inferred: bool             # PROTOCOLS §4.1: not confirmed to be one of the paper's 14
    uint8_io: bool = False     # True: fn works on the uint8 [T,H,W,3] video directly (jpeg, codecs)
    whole_video: bool = False  # True: a re-encoding of the whole test video (codecs, Q13); else per test view
    nearest: bool = False      # rounding to uint8: nearest (motion_blur's result is already on the levels;
    #                            glass_blur's float result), else the reference's np.uint8(np.clip(x, 0, 1) * 255)
    benchmark: bool = True     # one of UCF101-P's 13 non-temporal sets (PROTOCOLS §4.1, §4.5); glass_blur is not


# ---------------------------------------------------------------------------------------------- noise
# Random draws come from the CPU generator `g` and are then moved to x's device, so a seed gives the same output on
# CPU and CUDA.
def _draw(sample, x: torch.Tensor) -> torch.Tensor:
    return sample.to(x.device)


def gaussian_noise(x, sigma, g):
    return x + sigma * _draw(torch.randn(x.shape, generator=g), x)


def shot_noise(x, c, g):
    """Poisson(x c) / c. Input on the 256 uint8 levels (always so through `apply`) takes the table sampler below,
    2-3x faster than torch.poisson on CPU: same law, other draws than before the speed-up (docs/ucf101p.md)."""
    levels = (x * 255).round()
    if torch.equal(levels / 255, x):
        return _poisson_of_levels(levels, c, g).view_as(x) / c
    return torch.poisson((x * c).cpu(), generator=g).to(x.device) / c


_BUCKETS = 1024  # guide cells per level: a draw starts at (or a step before) its answer


@functools.lru_cache(maxsize=16)  # 5 severities x devices; the tables are only read
def _poisson_tables(c: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For the 256 rates l/255 * c (float32, as x * c): the CDFs laid end to end, the count each entry stands for,
    and the guide table: per (level, bucket b) the first entry with CDF > b / _BUCKETS (computed in float64)."""
    rate = (torch.arange(256, dtype=torch.float32) / 255 * c).double()[:, None]
    m = int(math.ceil(c + 12 * math.sqrt(c) + 20))     # P(k >= m) < 1e-30 for every rate <= c
    k = torch.arange(m, dtype=torch.float64)
    cdf = torch.exp(torch.xlogy(k, rate) - rate - torch.lgamma(k + 1)).cumsum(1)
    cdf[:, -1] = 2.0                                    # the last count takes the (negligible) rest: walks stop
    starts = (torch.arange(_BUCKETS, dtype=torch.float64) / _BUCKETS).expand(256, -1).contiguous()
    guide = torch.searchsorted(cdf, starts, right=True) + torch.arange(256)[:, None] * m
    counts = k.float().repeat(256)
    # float32 CDFs: u is float32 (steps of 2^-24), so the law changes by < 2^-24 per count; halves the traffic
    return cdf.float().flatten().to(device), guide.int().flatten().to(device), counts.to(device)


def _poisson_of_levels(levels: torch.Tensor, c: float, g: torch.Generator) -> torch.Tensor:
    """Inverse-CDF draws (the smallest k with CDF(k) > u, u ~ U[0, 1) in float32) for float levels 0..255; flat."""
    cdf, guide, counts = _poisson_tables(c, levels.device)
    u = _draw(torch.rand(levels.numel(), generator=g), levels)
    # int32 indices: index_select gathers with them ~2x faster than with int64 (tables < 2^31 entries)
    cell = (u * _BUCKETS).floor_().add_(levels.flatten(), alpha=_BUCKETS).int()    # exact: < 2^24
    pos = guide.index_select(0, cell)                                             # index into the CDF entries
    need = (cdf.index_select(0, pos) <= u).nonzero().flatten()
    while need.numel():
        pos[need] += 1
        need = need[cdf.index_select(0, pos[need]) <= u[need]]
    return counts.index_select(0, pos)


def impulse_noise(x, amount, g):
    # skimage random_noise mode "s&p": each element is replaced with probability `amount`, salt:pepper 1:1
    hit = _draw(torch.rand(x.shape, generator=g) < amount, x)
    salt = _draw(torch.rand(x.shape, generator=g) < 0.5, x)
    return torch.where(hit, salt.to(x.dtype), x)


def speckle_noise(x, sigma, g):
    return x + x * sigma * _draw(torch.randn(x.shape, generator=g), x)


# ---------------------------------------------------------------------------------------------- blur
# defocus_blur, motion_blur and zoom_blur: synvid.blurs
def _skimage_gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """skimage.filters.gaussian(x, sigma, channel_axis) on float [T, 3, H, W]: what it calls, scipy's
    gaussian_filter over H and W (truncate 4, mode 'nearest'), in float64 (torch's float64 conv is ~50x slower)."""
    from scipy.ndimage import gaussian_filter
    return torch.from_numpy(gaussian_filter(x.double().numpy(), sigma=(0, 0, sigma, sigma), mode="nearest",
                                            truncate=4.0))


@njit(cache=True)
def _glass_copy(frames, offsets, delta):  # pragma: no cover (numba)
    """YU's local "swap" in place on uint8 [T, H, W, C]: for h = H-delta..delta+1, w = W-delta..delta+1 (descending),
    x[h, w] = x[h + dy, w + dx] with offsets[i, t, a, b] = (dx, dy). `x[h, w], x[h', w'] = x[h', w'], x[h, w]` on
    numpy views is this copy (the second assignment writes back what the first just wrote), and later pixels read
    the already copied ones: a sequential loop, never a gather."""
    iters, num_frames, rows, cols = offsets.shape[:4]
    for i in range(iters):
        for t in range(num_frames):
            for a in range(rows):
                for b in range(cols):
                    hh, ww = frames.shape[1] - delta - a, frames.shape[2] - delta - b
                    dx, dy = offsets[i, t, a, b, 0], offsets[i, t, a, b, 1]
                    for ch in range(frames.shape[3]):
                        frames[t, hh, ww, ch] = frames[t, hh + dy, ww + dx, ch]
    return frames


def glass_blur(x, param, g):
    """YU `video_pertube.py` glass_blur: skimage Gaussian, truncation to uint8, `iters` sequential copy passes over
    the interior (offsets (dx, dy) ~ randint(-delta, delta), the border bands of width delta untouched), Gaussian
    again; its result stays float 0-255, so `apply` rounds it to the nearest level. YU's loop bounds are hard-coded
    to 224 (its view size); here they follow the frame (the same at 224)."""
    sigma, delta, iters = param
    t, c, h, w = x.shape
    device = x.device
    frames = (_skimage_gaussian(x.cpu(), sigma) * 255).to(torch.uint8)          # np.uint8(gaussian(..) * 255)
    rows, cols = max(h - 2 * delta, 0), max(w - 2 * delta, 0)
    offsets = torch.randint(-delta, delta, (iters, t, rows, cols, 2), generator=g)
    copied = _glass_copy(frames.permute(0, 2, 3, 1).contiguous().numpy(), offsets.numpy(), delta)
    x = torch.from_numpy(copied).permute(0, 3, 1, 2).double() / 255
    return _skimage_gaussian(x, sigma).clamp(0, 1).float().to(device)


# ---------------------------------------------------------------------------------------------- camera
def _sample_planes(x: torch.Tensor, theta: torch.Tensor, mode: str, padding_mode: str) -> torch.Tensor:
    """grid_sample of all T*3 planes of x with the one affine `theta` [1, 2, 3]: one grid for all frames (affine_grid
    per frame cost more than the sampling). Batch 1 is fastest on one CPU thread; grid_sample parallelises over the
    batch, so with more threads the grid is repeated per frame."""
    t, c, h, w = x.shape
    grid = F.affine_grid(theta, [1, 1, h, w], align_corners=False)
    if torch.get_num_threads() == 1 and x.device.type == "cpu":
        x = x.reshape(1, t * c, h, w)
    else:
        grid = grid.expand(t, -1, -1, -1).contiguous()
    return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False).view(t, c, h, w)


def _rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """PIL Image.rotate per frame: counter-clockwise, nearest, no expand, black fill. `degrees`: one per frame, or a
    single angle [1] for all frames."""
    t, c, h, w = x.shape
    a = degrees.to(x.dtype) * math.pi / 180
    cos, sin = torch.cos(a), torch.sin(a)
    theta = torch.stack([torch.stack([cos, -sin * h / w, torch.zeros_like(a)], 1),
                         torch.stack([sin * w / h, cos, torch.zeros_like(a)], 1)], 1)
    if len(degrees) == 1:
        return _sample_planes(x, theta, "nearest", "zeros")
    grid = F.affine_grid(theta, [t, c, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def static_rotate(x, degrees, g):
    return _rotate(x, torch.full((1,), float(degrees), device=x.device))


def rotate(x, max_degrees, g):
    return _rotate(x, _draw(torch.randint(-max_degrees, max_degrees + 1, (x.shape[0],), generator=g).float(), x))


def translate(x, max_offset, g):
    """YU applies one (dy, dx) in [0, max_offset) per clip: content moves up-left, right/bottom filled with 0."""
    dy, dx = (int(v) for v in torch.randint(0, max_offset, (2,), generator=g))
    out = torch.zeros_like(x)
    out[:, :, :x.shape[2] - dy, :x.shape[3] - dx] = x[:, :, dy:, dx:]
    return out


# ---------------------------------------------------------------------------------------------- digital
def jpeg(video, quality, g):
    """PIL JPEG round-trip per frame, as the reference (PROTOCOLS §4.2)."""
    out = []
    for frame in video.numpy():
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(buffer).convert("RGB")))
    return torch.from_numpy(np.stack(out))


def _codec(name: str) -> Callable:
    """codec1 / codec2 of a decoded video: the benchmark's ffmpeg arguments on its frames (synvid.codecs)."""
    return lambda video, q, g: codecs.encode_frames(name, q, video)


REGISTRY: dict[str, Corruption] = {
    "translate": Corruption("camera", (8, 16, 24, 32, 40), translate, False),
    "rotate": Corruption("camera", (7, 13, 19, 25, 31), rotate, False),
    "static_rotate": Corruption("camera", (7.5, 15, 30, 45, 90), static_rotate, False),
    "motion_blur": Corruption("blur", ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)), motion_blur, False,
                              nearest=True),
    "defocus_blur": Corruption("blur", ((3, .1), (4, .5), (6, .5), (8, .5), (10, .5)), defocus_blur, False),
    # zoom_blur: the reference's np.arange(start, stop, step) of zoom factors (12, 16, 11, 13, 11 of them)
    "zoom_blur": Corruption("blur", ((1, 1.11, .01), (1, 1.16, .01), (1, 1.21, .02), (1, 1.26, .02),
                                     (1, 1.31, .03)), zoom_blur, False),
    "glass_blur": Corruption("blur", ((.7, 1, 2), (.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)), glass_blur, True,
                             nearest=True, benchmark=False),
    "gaussian_noise": Corruption("noise", (.08, .12, .18, .26, .38), gaussian_noise, False),
    "shot_noise": Corruption("noise", (250, 100, 50, 30, 15), shot_noise, False),
    "impulse_noise": Corruption("noise", (.03, .06, .09, .17, .27), impulse_noise, False),
    "speckle_noise": Corruption("noise", (.15, .20, .25, .30, .35), speckle_noise, False),
    "jpeg": Corruption("digital", (25, 18, 15, 10, 7), jpeg, False, uint8_io=True),
    "codec1": Corruption("digital", (20, 40, 60, 80, 100), _codec("codec1"), True, uint8_io=True,
                         whole_video=True),
    "codec2": Corruption("digital", (15, 30, 45, 60, 75), _codec("codec2"), True, uint8_io=True,
                         whole_video=True),
}
NAMES: tuple[str, ...] = tuple(REGISTRY)
BENCHMARK: tuple[str, ...] = tuple(n for n, r in REGISTRY.items() if r.benchmark)   # the 13 of UCF101-P
WHOLE_VIDEO: tuple[str, ...] = tuple(n for n, r in REGISTRY.items() if r.whole_video)
PER_VIEW: tuple[str, ...] = tuple(n for n, r in REGISTRY.items() if not r.whole_video)
FAMILIES: dict[str, tuple[str, ...]] = {}
for _name, _rec in REGISTRY.items():
    FAMILIES[_rec.family] = FAMILIES.get(_rec.family, ()) + (_name,)


def apply(name: str, video: torch.Tensor, severity: int, seed: int = 0, params: tuple | None = None) -> torch.Tensor:
    """Corrupt uint8 [T, H, W, 3] (0-255) with `name` at `severity` (1-5); deterministic given `seed`. Computes on
    the video's device (jpeg and the codecs on CPU) and returns there; draws come from a CPU generator. `params`
    (one per severity) replaces the registry's, where the benchmark's files used other values."""
    _check(name, video, severity)
    record = REGISTRY[name]
    g = torch.Generator().manual_seed(zlib.crc32(f"{name}/{severity}/{seed}".encode()))
    param = (params or record.params)[severity - 1]
    if record.uint8_io:                                   # PIL / ffmpeg: CPU only
        return record.fn(video.cpu(), param, g).to(video.device)
    # contiguous [T,3,H,W] (not the channels-last view a bare permute gives): the filters and samplers below are
    # several times faster on it; the values are the same
    x = video.permute(0, 3, 1, 2).contiguous().float().div_(255)
    y = record.fn(x, param, g).clamp_(0, 1).mul_(255)
    # the reference's np.uint8(np.clip(x, 0, 1) * 255) truncates (float32 here: a value within ~1e-5 of a level can
    # land one level apart from NumPy's float64; levels themselves map to themselves exactly)
    y = y.add_(0.5).floor_() if record.nearest else y
    return y.to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _check(name: str, video, severity: int) -> None:
    if name not in REGISTRY:
        raise BadInput(f"unknown corruption {name!r}; choose from {', '.join(NAMES)}")
    if severity not in (1, 2, 3, 4, 5):
        raise BadInput(f"severity must be 1-5, got {severity!r}")
    if not isinstance(video, torch.Tensor) or video.dtype != torch.uint8 or video.ndim != 4 or video.shape[-1] != 3:
        raise BadInput(f"expected a uint8 tensor [T, H, W, 3], got {getattr(video, 'dtype', type(video))} "
                       f"{list(getattr(video, 'shape', []))}")


def write_whole_video(name: str, src, severity: int, path) -> Path:
    """Write the codec corruption `name` of the video file `src` at `path` (atomic) with the benchmark's own ffmpeg
    command (synvid.codecs.encode_file): the stored video is the re-encoding itself, not a second encoding of it."""
    if name not in WHOLE_VIDEO:
        raise BadInput(f"{name!r} is not a whole-video corruption; those are {', '.join(WHOLE_VIDEO)}")
    if severity not in (1, 2, 3, 4, 5):
        raise BadInput(f"severity must be 1-5, got {severity!r}")
    return codecs.encode_file(name, REGISTRY[name].params[severity - 1], src, path)
