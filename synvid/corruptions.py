"""UCF101-P corruptions (Schiappa et al. 2023; paper Figure 3; PROTOCOLS.md §4).

Every corruption takes uint8 [T, H, W, 3] in 0-255 and returns uint8 of the same shape (PROTOCOLS §4.3 / Q23:
not the float-through-ToPILImage path of the authors' test loader). Where it acts (PROTOCOLS §4.3, Q13): the 12
pixel corruptions (`PER_VIEW`) on each 224 test view after resize and crop; the two codecs (`WHOLE_VIDEO`) on the
whole decoded video, which is then viewed normally. Formulas that are defined on [0, 1] are
computed in float on [0, 1]. All frames are processed at once in torch; randomness comes from one
`torch.Generator` seeded from (name, severity, seed), so a call is deterministic.
Parameters: PROTOCOLS §4.2 (SCH `core/video_perturb.py` = YU `video_pertube.py`; codecs from SCH-VL).
"""
from __future__ import annotations

import math
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Corruption:
    family: str
    params: tuple              # one entry per severity 1..5
    fn: Callable               # fn(x_float [T,3,H,W] in [0,1] or uint8 video, param, generator) -> same
    inferred: bool             # PROTOCOLS §4.1: not confirmed to be one of the paper's 14
    uint8_io: bool = False     # True: fn works on the uint8 [T,H,W,3] video directly (jpeg, codecs)
    whole_video: bool = False  # True: a re-encoding of the whole test video (codecs, Q13); else per test view


# ---------------------------------------------------------------------------------------------- helpers
def _gaussian_kernel1d(sigma: float, radius: int | None = None) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma))) if radius is None else radius
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return k / k.sum()


def _filter(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Depthwise 2-D filter of [T,3,H,W] with one [k,k] kernel, reflect border (cv2 BORDER_REFLECT_101)."""
    k = kernel.shape[-1] // 2
    padded = F.pad(x, (k, k, k, k), mode="reflect")
    weight = kernel.to(x)[None, None].expand(x.shape[1], 1, -1, -1)
    return F.conv2d(padded, weight, groups=x.shape[1])


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = _gaussian_kernel1d(sigma)
    return _filter(x, k[:, None] * k[None, :])


# ---------------------------------------------------------------------------------------------- noise
def gaussian_noise(x, sigma, g):
    return x + sigma * torch.randn(x.shape, generator=g)


def shot_noise(x, c, g):
    return torch.poisson(x * c, generator=g) / c


def impulse_noise(x, amount, g):
    # skimage random_noise mode "s&p": each element is replaced with probability `amount`, salt:pepper 1:1
    hit = torch.rand(x.shape, generator=g) < amount
    salt = torch.rand(x.shape, generator=g) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)


def speckle_noise(x, sigma, g):
    return x + x * sigma * torch.randn(x.shape, generator=g)


# ---------------------------------------------------------------------------------------------- blur
def defocus_blur(x, param, g):
    radius, alias_sigma = param
    extent = 8 if radius <= 8 else radius
    r = torch.arange(-extent, extent + 1, dtype=torch.float32)
    disk = ((r[:, None] ** 2 + r[None, :] ** 2) <= radius ** 2).float()
    disk = disk / disk.sum()
    alias = _gaussian_kernel1d(alias_sigma, radius=1 if radius <= 8 else 2)
    return _filter(_filter(x, disk), alias[:, None] * alias[None, :])


def motion_blur(x, param, g):
    """DEVIATION: a torch stand-in for ImageMagick MotionBlurImage: one-sided line kernel of `radius` pixels with
    Gaussian weights exp(-d^2 / 2 sigma^2), bilinearly splatted, at an angle ~ U(-45, 45) deg drawn per frame."""
    radius, sigma = param
    t = x.shape[0]
    angles = (torch.rand(t, generator=g) * 90 - 45) * math.pi / 180
    size = 2 * radius + 1
    d = torch.arange(radius + 1, dtype=torch.float32)
    weights = torch.exp(-d ** 2 / (2 * sigma ** 2))
    px = radius + d[None] * torch.cos(angles)[:, None]           # [T, radius+1]
    py = radius + d[None] * torch.sin(angles)[:, None]
    kernel = torch.zeros(t, size * size)
    x0, y0 = px.floor(), py.floor()
    for dx in (0, 1):
        for dy in (0, 1):
            w = (1 - (px - x0 - dx).abs()) * (1 - (py - y0 - dy).abs()) * weights
            xi, yi = (x0 + dx).clamp(0, size - 1).long(), (y0 + dy).clamp(0, size - 1).long()
            kernel.scatter_add_(1, yi * size + xi, w)
    kernel = (kernel / kernel.sum(1, keepdim=True)).view(t, 1, size, size)
    weight = kernel.repeat_interleave(x.shape[1], 0)                # one kernel per (frame, channel)
    padded = F.pad(x.reshape(1, -1, *x.shape[2:]), (radius,) * 4, mode="replicate")
    return F.conv2d(padded, weight, groups=weight.shape[0]).view_as(x)


def _centre_zoom(x: torch.Tensor, factor: float) -> torch.Tensor:
    theta = torch.tensor([[1 / factor, 0, 0], [0, 1 / factor, 0]], dtype=x.dtype)
    grid = F.affine_grid(theta[None].expand(x.shape[0], -1, -1), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def zoom_blur(x, param, g):
    first, step, count = param
    out = x.clone()
    for i in range(count):
        out += _centre_zoom(x, first + i * step)
    return out / (count + 1)


def glass_blur(x, param, g):
    """DEVIATION (vectorised): the reference swaps pixels one by one in a sequential Python loop; here each pass
    gathers every pixel from a random offset in [-delta, delta) at once (a swap map over all frames)."""
    sigma, delta, iters = param
    x = _blur(x, sigma)
    t, _, h, w = x.shape
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    for _ in range(iters):
        dy = torch.randint(-delta, delta, (t, h, w), generator=g)
        dx = torch.randint(-delta, delta, (t, h, w), generator=g)
        src = (ys + dy).clamp(0, h - 1) * w + (xs + dx).clamp(0, w - 1)
        x = torch.gather(x.flatten(2), 2, src.flatten(1)[:, None].expand(-1, 3, -1)).view_as(x)
    return _blur(x, sigma).clamp(0, 1)


# ---------------------------------------------------------------------------------------------- camera
def _rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """PIL Image.rotate per frame: counter-clockwise, nearest, no expand, black fill."""
    _, _, h, w = x.shape
    a = degrees.to(x.dtype) * math.pi / 180
    cos, sin = torch.cos(a), torch.sin(a)
    theta = torch.stack([torch.stack([cos, -sin * h / w, torch.zeros_like(a)], 1),
                         torch.stack([sin * w / h, cos, torch.zeros_like(a)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def static_rotate(x, degrees, g):
    return _rotate(x, torch.full((x.shape[0],), float(degrees)))


def rotate(x, max_degrees, g):
    return _rotate(x, torch.randint(-max_degrees, max_degrees + 1, (x.shape[0],), generator=g).float())


def translate(x, max_offset, g):
    """YU applies one (dy, dx) in [0, max_offset) per clip: content moves up-left, right/bottom filled with 0."""
    dy, dx = (int(v) for v in torch.randint(0, max_offset, (2,), generator=g))
    out = torch.zeros_like(x)
    out[:, :, :x.shape[2] - dy, :x.shape[3] - dx] = x[:, :, dy:, dx:]
    return out


# ---------------------------------------------------------------------------------------------- digital
def jpeg(video, quality, g):
    """PIL JPEG round-trip per frame, as the reference (PROTOCOLS §4.2)."""
    import io

    import numpy as np
    from PIL import Image

    out = []
    for frame in video.numpy():
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(buffer).convert("RGB")))
    return torch.from_numpy(np.stack(out))


def _codec(codec: str) -> Callable:
    def reencode(video, q, g):
        from synvid.video_io import read_video

        with tempfile.TemporaryDirectory() as tmp:
            out = read_video(_encode(codec, video, q, Path(tmp) / "v.avi", fps=25))
        if out.shape != video.shape:
            raise RuntimeError(f"{codec} round-trip changed the video from {list(video.shape)} to {list(out.shape)}")
        return out
    return reencode


def _encode(codec: str, video: torch.Tensor, q: int, path: Path, fps: float) -> Path:
    from synvid.video_io import write_video

    # Q13: SCH-VL passes -q:v up to 100; MPEG quantisers stop at 31, so q is clamped to 31. With a fixed quantiser
    # the decoded frames do not depend on fps (checked for both codecs), so a file written here decodes to `apply`.
    return write_video(path, video, fps=fps, codec=codec, crf=None, qscale=min(q, 31))   # exact rate: video_io


CODEC_OF = {"codec1": "mpeg2video", "codec2": "mpeg4"}  # SCH-VL generate_noisy_videos.py
REGISTRY: dict[str, Corruption] = {
    "translate": Corruption("camera", (8, 16, 24, 32, 40), translate, False),
    "rotate": Corruption("camera", (7, 13, 19, 25, 31), rotate, False),
    "static_rotate": Corruption("camera", (7.5, 15, 30, 45, 90), static_rotate, False),
    "motion_blur": Corruption("blur", ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)), motion_blur, False),
    "defocus_blur": Corruption("blur", ((3, .1), (4, .5), (6, .5), (8, .5), (10, .5)), defocus_blur, False),
    "zoom_blur": Corruption("blur", ((1.0, .01, 12), (1.0, .01, 16), (1.0, .02, 11), (1.0, .02, 13),
                                     (1.0, .03, 11)), zoom_blur, False),
    "glass_blur": Corruption("blur", ((.7, 1, 2), (.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)), glass_blur, True),
    "gaussian_noise": Corruption("noise", (.08, .12, .18, .26, .38), gaussian_noise, False),
    "shot_noise": Corruption("noise", (250, 100, 50, 30, 15), shot_noise, False),
    "impulse_noise": Corruption("noise", (.03, .06, .09, .17, .27), impulse_noise, False),
    "speckle_noise": Corruption("noise", (.15, .20, .25, .30, .35), speckle_noise, False),
    "jpeg": Corruption("digital", (25, 18, 15, 10, 7), jpeg, False, uint8_io=True),
    "codec1": Corruption("digital", (20, 40, 60, 80, 100), _codec(CODEC_OF["codec1"]), True, uint8_io=True,
                         whole_video=True),
    "codec2": Corruption("digital", (15, 30, 45, 60, 75), _codec(CODEC_OF["codec2"]), True, uint8_io=True,
                         whole_video=True),
}
NAMES: tuple[str, ...] = tuple(REGISTRY)
WHOLE_VIDEO: tuple[str, ...] = tuple(n for n, r in REGISTRY.items() if r.whole_video)
PER_VIEW: tuple[str, ...] = tuple(n for n, r in REGISTRY.items() if not r.whole_video)
FAMILIES: dict[str, tuple[str, ...]] = {}
for _name, _rec in REGISTRY.items():
    FAMILIES[_rec.family] = FAMILIES.get(_rec.family, ()) + (_name,)


def apply(name: str, video: torch.Tensor, severity: int, seed: int = 0) -> torch.Tensor:
    """Corrupt uint8 [T, H, W, 3] (0-255) with `name` at `severity` (1-5); deterministic given `seed`."""
    _check(name, video, severity)
    record = REGISTRY[name]
    g = torch.Generator().manual_seed(zlib.crc32(f"{name}/{severity}/{seed}".encode()))
    param = record.params[severity - 1]
    video = video.cpu()
    if record.uint8_io:
        return record.fn(video, param, g)
    x = video.permute(0, 3, 1, 2).float() / 255
    y = record.fn(x, param, g)
    return (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _check(name: str, video, severity: int) -> None:
    if name not in REGISTRY:
        raise ValueError(f"unknown corruption {name!r}; choose from {', '.join(NAMES)}")
    if severity not in (1, 2, 3, 4, 5):
        raise ValueError(f"severity must be 1-5, got {severity!r}")
    if not isinstance(video, torch.Tensor) or video.dtype != torch.uint8 or video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"expected a uint8 tensor [T, H, W, 3], got {getattr(video, 'dtype', type(video))} "
                         f"{list(getattr(video, 'shape', []))}")


def write_whole_video(name: str, video: torch.Tensor, severity: int, path, fps: float) -> Path:
    """Write the codec corruption `name` of uint8 [T, H, W, 3] as the codec's own file at `path` (atomic), so the
    stored video is the re-encoding itself, not a second encoding of it; decoding it gives `apply(name, video,
    severity)`."""
    if name not in WHOLE_VIDEO:
        raise ValueError(f"{name!r} is not a whole-video corruption; those are {', '.join(WHOLE_VIDEO)}")
    _check(name, video, severity)
    return _encode(CODEC_OF[name], video, REGISTRY[name].params[severity - 1], Path(path), fps)
