"""UCF101-P corruptions (Schiappa et al. 2023; paper Figure 3; PROTOCOLS.md §4).

Every corruption takes uint8 [T, H, W, 3] in 0-255 and returns uint8 of the same shape (PROTOCOLS §4.3 / Q23:
not the float-through-ToPILImage path of the authors' test loader). Formulas defined on [0, 1] are computed in float
on [0, 1] and truncated back to uint8 as the reference does (`np.uint8(np.clip(x, 0, 1) * 255)`); ImageMagick's
motion blur rounds. Where they act is the caller's choice (`synvid.robustness`): on each test view (the authors'
hook) or on the full-resolution video written as a file (`synvid.ucf101p_files`, the benchmark's files). All frames
are processed at once in torch; randomness comes from one `torch.Generator` seeded from (name, severity, seed), so a
call is deterministic. Parameters: PROTOCOLS §4.2 (SCH `core/video_perturb.py` = YU `video_pertube.py`; codecs from
SCH-VL `generate_noisy_videos.py`).
"""
from __future__ import annotations

import functools
import io
import math
import warnings
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
from synvid.errors import BadInput


@dataclass(frozen=True)
class Corruption:
    family: str
    params: tuple              # one entry per severity 1..5
    fn: Callable               # fn(x_float [T,3,H,W] in [0,1] or uint8 video, param, generator) -> same
    inferred: bool             # PROTOCOLS §4.1: not confirmed to be one of the paper's 14
    uint8_io: bool = False     # True: fn works on the uint8 [T,H,W,3] video directly (jpeg, codecs)
    whole_video: bool = False  # True: a re-encoding of the whole test video (codecs, Q13); else per test view
    nearest: bool = False      # rounding to uint8: nearest (ImageMagick; glass_blur's float result), else the
    #                            reference's truncation np.uint8(np.clip(x, 0, 1) * 255)
    benchmark: bool = True     # one of UCF101-P's 13 non-temporal sets (PROTOCOLS §4.1, §4.5); glass_blur is not


# ---------------------------------------------------------------------------------------------- helpers
def _gaussian_kernel1d(sigma: float, radius: int | None = None) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma))) if radius is None else radius
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return k / k.sum()


def _filter(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Depthwise 2-D filter of [T,3,H,W] with one [kh,kw] kernel, reflect border (cv2 BORDER_REFLECT_101).
    All T*3 planes go through one grouped conv of batch 1: on CPU that is 6-20x faster than batch T with 3 groups
    (measured for 1x1 to 31x31 kernels; same values)."""
    t, c, h, w = x.shape
    kh, kw = kernel.shape[-2] // 2, kernel.shape[-1] // 2
    padded = F.pad(x, (kw, kw, kh, kh), mode="reflect").reshape(1, t * c, h + 2 * kh, w + 2 * kw)
    weight = kernel.to(x)[None, None].expand(t * c, 1, -1, -1).contiguous()
    return F.conv2d(padded, weight, groups=t * c).view(t, c, h, w)


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
def defocus_blur(x, param, g):
    radius, alias_sigma = param
    # the reference's disk lives on a -8..8 grid for r <= 8; the taps outside the radius are 0, so the -r..r kernel
    # gives the same output (cost: (2r+1)^2 instead of 17^2 taps)
    r = torch.arange(-radius, radius + 1, dtype=torch.float32)
    disk = ((r[:, None] ** 2 + r[None, :] ** 2) <= radius ** 2).float()
    disk = disk / disk.sum()
    alias = _gaussian_kernel1d(alias_sigma, radius=1 if radius <= 8 else 2)
    return _filter(_filter(x, disk), alias[:, None] * alias[None, :])


def motion_blur_taps(radius: float, sigma: float, angle: float) -> tuple[list[float], list[int], list[int]]:
    """ImageMagick MotionBlurImage (MagickCore/effect.c): GetOptimalKernelWidth1D gives 2 ceil(r) + 1 taps
    i = 0..2r with weights exp(-i^2 / 2 sigma^2) (normalised), and tap i reads the pixel at
    (x + ceil(i cos a - 0.5), y + ceil(i sin a - 0.5)): offsets rounded to the nearest pixel. Returns
    (weights, column offsets, row offsets)."""
    width = 2 * math.ceil(radius) + 1
    weights = [math.exp(-(i * i) / (2.0 * sigma * sigma)) for i in range(width)]
    weights = [k / sum(weights) for k in weights]
    a = math.radians(angle)
    px, py = width * math.sin(a), width * math.cos(a)        # effect.c: point.x, point.y
    norm = math.hypot(px, py)
    cols = [math.ceil(i * py / norm - 0.5) for i in range(width)]
    rows = [math.ceil(i * px / norm - 0.5) for i in range(width)]
    return weights, cols, rows


def motion_blur(x, param, g):
    """ImageMagick MotionBlurImage via Wand (SCH / YU), angle ~ U(-45, 45) deg drawn per frame: each output pixel is
    the weighted sum of the taps of `motion_blur_taps`, edge pixels replicated (ImageMagick's default virtual pixels).
    ImageMagick rounds its result to the nearest level (8-bit PNG out): the record sets `nearest`."""
    radius, sigma = param
    t, c, h, w = x.shape
    angles = torch.rand(t, generator=g, dtype=torch.float64) * 90 - 45
    pad = 2 * math.ceil(radius)                               # the farthest tap
    padded = F.pad(x, (pad,) * 4, mode="replicate")
    out = torch.zeros_like(x)
    for f in range(t):
        for k, dx, dy in zip(*motion_blur_taps(radius, sigma, float(angles[f]))):
            out[f].add_(padded[f, :, pad + dy:pad + dy + h, pad + dx:pad + dx + w], alpha=k)
    return out


def zoom_blur(x, param, g):
    """Mean of the frame and its bilinear centre zooms, as one sparse matrix product over all T*3 planes."""
    t, c, h, w = x.shape
    planes = x.reshape(t * c, h * w).t().contiguous()                 # [H*W, T*3]
    return (_zoom_operator(h, w, tuple(param), x.device) @ planes).t().reshape(t, c, h, w)


@functools.lru_cache(maxsize=4)  # one view size x the severity of a run; 14-23 MB each at 224^2
def _zoom_operator(h: int, w: int, param: tuple, device: torch.device) -> torch.Tensor:
    """zoom_blur as a sparse [H*W, H*W] matrix: (identity + sum of the bilinear centre zooms) / (count + 1), with
    grid_sample's taps and weights (align_corners=False, border) at affine_grid's coordinates. 23-38 non-zeros per
    row at 224^2: one product costs ~10x less than the count grid_samples (docs/ucf101p.md); built once, ~0.13 s."""
    first, step, count = param
    pixel = torch.arange(h * w)
    rows, cols, vals = [pixel], [pixel], [torch.ones(h * w)]
    for i in range(count):
        factor = first + i * step
        theta = torch.tensor([[[1 / factor, 0, 0], [0, 1 / factor, 0]]])
        grid = F.affine_grid(theta, [1, 1, h, w], align_corners=False)[0]  # separable: x by column, y by row
        for yi, wy in _bilinear_taps(grid[:, 0, 1], h):
            for xi, wx in _bilinear_taps(grid[0, :, 0], w):
                rows.append(pixel)
                cols.append((yi[:, None] * w + xi[None, :]).flatten())
                vals.append((wy[:, None] * wx[None, :]).flatten())
    index = torch.stack([torch.cat(rows), torch.cat(cols)])
    op = torch.sparse_coo_tensor(index, torch.cat(vals) / (count + 1), (h * w, h * w), check_invariants=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return op.coalesce().to_sparse_csr().to(device)


def _bilinear_taps(coord: torch.Tensor, size: int) -> tuple:
    """grid_sample's two bilinear taps along one axis for normalised coordinates (align_corners=False, border
    padding): ((index, weight), (index + 1, weight)); a tap past the edge has weight 0."""
    u = (((coord + 1) * size - 1) / 2).clamp(0, size - 1)
    low = u.floor()
    return (low.long(), low + 1 - u), ((low.long() + 1).clamp(max=size - 1), u - low)


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
    "zoom_blur": Corruption("blur", ((1.0, .01, 12), (1.0, .01, 16), (1.0, .02, 11), (1.0, .02, 13),
                                     (1.0, .03, 11)), zoom_blur, False),
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
