"""Three UCF101-P blurs as the benchmark computes them (ImageNet-C style: SCH `core/video_perturb.py`, SCH-VL
`generate_noisy_videos.py`; PROTOCOLS.md §4.2, §4.5): defocus (a cv2 disk kernel), motion (ImageMagick
MotionBlurImage through Wand) and zoom (scipy.ndimage.zoom copies). Each takes float [T, 3, H, W] in [0, 1], a
severity's parameter and a generator, and returns the same shape; `synvid.corruptions.apply` wraps them. Measured
against the reference functions themselves: docs/ucf101p.md.
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from synvid.errors import BadInput


def _gaussian_kernel1d(sigma: float, radius: int) -> torch.Tensor:
    """cv2.getGaussianKernel(2 radius + 1, sigma): exp(-x^2 / 2 sigma^2) normalised, in float64 as cv2 computes it."""
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
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


def defocus_blur(x, param, g):
    """ImageNet-C defocus blur (SCH / SCH-VL): the reference's `disk` kernel through cv2.filter2D (reflect-101)."""
    return _filter(x, _defocus_kernel(*param).to(x.device))


@functools.lru_cache(maxsize=8)
def _defocus_kernel(radius: int, alias_sigma: float) -> torch.Tensor:
    """The reference's `disk(radius, alias_blur)`: a disk of radius r on the grid -8..8 for r <= 8 (else -r..r),
    normalised, then cv2.GaussianBlur (3x3, or 5x5 for r > 8; sigma alias_blur) with cv2's default reflect-101
    border. At r = 8 and 10 the disk reaches the grid's edge, where the blur mirrors the edge taps back in: the kernel
    sums to 1.013 (s4) and 1.011 (s5), and the reference's frames come out ~1.2% brighter; kept. Float64, then
    float32 as cv2's kernel; cropped to its non-zero box (the taps dropped are exactly 0: same output, fewer taps)."""
    extent = 8 if radius <= 8 else radius
    grid = torch.arange(-extent, extent + 1, dtype=torch.float64)
    disk = ((grid[:, None] ** 2 + grid[None, :] ** 2) <= radius ** 2).double()
    alias = _gaussian_kernel1d(alias_sigma, radius=1 if radius <= 8 else 2)
    a = len(alias) // 2
    padded = F.pad((disk / disk.sum())[None, None], (a,) * 4, mode="reflect")        # reflect = cv2's reflect-101
    kernel = F.conv2d(padded, (alias[:, None] * alias[None, :])[None, None])[0, 0].float()
    used = kernel.ne(0).any(0).nonzero().flatten()                                   # symmetric: rows = columns
    return kernel[used[0]:used[-1] + 1, used[0]:used[-1] + 1]


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
    """ImageMagick MotionBlurImage via Wand (SCH / SCH-VL / YU), angle ~ U(-45, 45) deg drawn per frame: each output
    pixel is the weighted sum of the taps of `motion_blur_taps`, edge pixels replicated (ImageMagick's default
    virtual pixels), then quantised as ImageMagick writes it (`magick_png8`)."""
    radius, sigma = param
    t, c, h, w = x.shape
    angles = torch.rand(t, generator=g, dtype=torch.float64) * 90 - 45
    pad = 2 * math.ceil(radius)                               # the farthest tap
    padded = F.pad(x, (pad,) * 4, mode="replicate")
    out = torch.zeros_like(x)
    for f in range(t):
        for k, dx, dy in zip(*motion_blur_taps(radius, sigma, float(angles[f]))):
            out[f].add_(padded[f, :, pad + dy:pad + dy + h, pad + dx:pad + dx + w], alpha=k)
    return magick_png8(out)


def magick_png8(y: torch.Tensor) -> torch.Tensor:
    """The 8-bit level that ImageMagick 6 (Q16, the reference's build) returns for a filtered value y in [0, 1], as
    a value on the levels (level / 255). The filter stores its result rounded to the 16-bit quantum (ClampToQuantum:
    q = floor(65535 y + 0.5)); the PNG writer at depth 8 then truncates q / 257 (measured on 6.9.11 Q16 for each of
    the 65,536 quanta; the whole chain gives ImageMagick's motion blur on every value of four natural 240x320
    frames). So: the truncation of 255 y, except within half a quantum (1/514 level) below a level, which goes up
    (0.2% of the values of natural frames). Not rounding to the nearest level."""
    quanta = y.mul(65535).add_(0.5).floor_()
    # float32 is exact here: q <= 65535, and q / 257 is either an integer or at least 1/257 from one
    return quanta.div_(257, rounding_mode="floor").div_(255)


def zoom_blur(x, param, g):
    """ImageNet-C zoom blur (SCH `zoom_blur` / `clipped_zoom`): the mean of the frame and its zoomed centre copies,
    as one sparse matrix product over all T*3 planes, in float64 (1.5-2x the float32 cost): a float32 sum of the ~30
    weights lands a few ulps off 1, which truncation turns into one level less on flat areas (saturated 255 -> 254
    at s1, where the reference keeps 255). The reference's own float32 sum of the copies still puts flat areas of
    about 1 in 4 levels one level lower; this sum does not."""
    t, c, h, w = x.shape
    planes = x.reshape(t * c, h * w).t().contiguous().double()         # [H*W, T*3], row-major: 2x faster product
    return (_zoom_operator(h, w, tuple(param), x.device) @ planes).t().reshape(t, c, h, w).to(x.dtype)


def zoom_factors(param: tuple) -> np.ndarray:
    """The reference's factors np.arange(start, stop, step). NumPy fills start + i (start + step - start), which
    is not Python's 1 + i step in the last bits, and sizes depend on it: at s5, 185 rows x 1.3000000000000003
    round to 241, x 1.3 to 240."""
    factors = np.arange(*param)
    if len(factors) == 0 or factors.min() < 1:
        raise BadInput(f"zoom_blur takes np.arange(start, stop, step) of zoom factors >= 1, got {param!r}")
    return factors


@functools.lru_cache(maxsize=4)  # one view size x the severity of a run; 19-31 MB each at 224^2
def _zoom_operator(h: int, w: int, param: tuple, device: torch.device) -> torch.Tensor:
    """zoom_blur as a sparse [H*W, H*W] matrix: (identity + sum of the clipped zooms) / (count + 1). Each zoom is
    separable (scipy's order-1 zoom interpolates each axis linearly), so its taps are the products of the row and
    column taps of `_clipped_zoom_taps`. 23-38 non-zeros per row at 224^2: one product costs ~10x less than the
    count separate zooms (docs/ucf101p.md); built once per size and severity, float64."""
    factors = zoom_factors(param)
    pixel = torch.arange(h * w)
    rows, cols, vals = [pixel], [pixel], [torch.ones(h * w, dtype=torch.float64)]
    for factor in factors:
        for yi, wy in _clipped_zoom_taps(h, factor):
            for xi, wx in _clipped_zoom_taps(w, factor):
                rows.append(pixel)
                cols.append((yi[:, None] * w + xi[None, :]).flatten())
                vals.append((wy[:, None] * wx[None, :]).flatten())
    index = torch.stack([torch.cat(rows), torch.cat(cols)])
    op = torch.sparse_coo_tensor(index, torch.cat(vals) / (len(factors) + 1), (h * w, h * w), check_invariants=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return op.coalesce().to_sparse_csr().to(device)


def _clipped_zoom_taps(size: int, factor: float) -> tuple:
    """One axis of the reference's clipped_zoom(img, factor), as two linear taps into the frame per output pixel:
    the crop of ceil(size / factor) pixels from (size - crop) // 2, scipy.ndimage.zoom(order=1) of it to
    round(crop * factor) pixels, whose output k reads the crop at k (crop - 1) / (out - 1) (corner-aligned: scipy's
    default grid_mode=False), then `size` pixels kept from (out - size) // 2. The copy's centre sits up to 0.97 px
    off the frame's (224, 240, 320 pixels); kept. SCH's version assumes a square frame, SCH-VL's takes each axis on
    its own: the same on square frames, and this is SCH-VL's. Returns ((index, weight), (index + 1, weight)),
    float64 weights."""
    crop = int(math.ceil(size / factor))
    top = (size - crop) // 2
    out = int(round(crop * factor))
    trim = (out - size) // 2
    coord = torch.arange(trim, trim + size, dtype=torch.float64) * ((crop - 1) / (out - 1) if out > 1 else 1.0)
    low = coord.floor()
    frac = coord - low
    low = low.long().clamp(max=crop - 1)
    return (top + low, 1 - frac), (top + (low + 1).clamp(max=crop - 1), frac)
