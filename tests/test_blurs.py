"""synvid.blurs against the benchmark's own functions (SCH `core/video_perturb.py`, SCH-VL
`generate_noisy_videos.py`): scipy's zoom and OpenCV's disk kernel and filter2D are run here, restated from the
reference's facts; ImageMagick (not in the test environment) through its rule restated per pixel and through output
values computed with it. Natural frames: skimage's photographs, area-downscaled."""
import math
import zlib

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import zoom as scipy_zoom
from skimage import data

from synvid import blurs, corruptions


def _photo(name: str, h: int, w: int) -> np.ndarray:
    """skimage's photograph `name` box-downscaled to uint8 [h, w, 3] (aspect ratio not kept: any natural texture)."""
    return np.asarray(Image.fromarray(getattr(data, name)()).resize((w, h), Image.BOX))


def _frames() -> list[np.ndarray]:
    """A 4:3 benchmark-like frame, a square hook-like view, and a 240-row strip: at s5 the strip's 185-row crop
    zooms to 241 rows with np.arange's 1.3000000000000003 (240 with Python's 1.3)."""
    return [_photo("coffee", 24, 32), _photo("astronaut", 20, 20), _photo("chelsea", 240, 320)[:, 150:162]]


def _apply(name: str, frame: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    return corruptions.apply(name, torch.from_numpy(frame.copy())[None], severity, seed)[0].numpy()


def _agrees(ours: np.ndarray, ref: np.ndarray, share: float) -> None:
    """At most 1 level apart, on at most `share` of the values (so a mean difference below `share` too)."""
    diff = ours.astype(int) - ref.astype(int)
    assert np.abs(diff).max() <= 1 and (diff != 0).mean() <= share, \
        (np.abs(diff).max(), (diff != 0).mean(), diff.mean())


# --- zoom_blur: scipy.ndimage.zoom copies (SCH-VL clipped_zoom; SCH's square form is the same on square frames)
def _reference_zoom_blur(frame: np.ndarray, factors) -> np.ndarray:
    """The reference's facts: float32 frame / 255; per factor z the centre crop of ceil(n / z) pixels per axis from
    (n - crop) // 2, scipy zoom order 1 by (z, z, 1), trimmed to the frame from (out - n) // 2; the mean of the
    frame and the copies, summed in float32 in that order; np.uint8(np.clip(x, 0, 1) * 255)."""
    x = (frame / 255.0).astype(np.float32)
    total = np.zeros_like(x)
    for z in factors:
        crop = [int(np.ceil(n / z)) for n in x.shape[:2]]
        start = [(n - c) // 2 for n, c in zip(x.shape[:2], crop)]
        copy = scipy_zoom(x[start[0]:start[0] + crop[0], start[1]:start[1] + crop[1]], (z, z, 1), order=1)
        trim = [(m - n) // 2 for m, n in zip(copy.shape[:2], x.shape[:2])]
        total += copy[trim[0]:trim[0] + x.shape[0], trim[1]:trim[1] + x.shape[1]]
    return np.uint8(np.clip((x + total) / (len(factors) + 1), 0, 1) * 255)


@pytest.mark.parametrize("severity", range(1, 6))
def test_zoom_blur_is_the_references(severity):
    factors = np.arange(*corruptions.REGISTRY["zoom_blur"].params[severity - 1])
    for frame in _frames():
        _agrees(_apply("zoom_blur", frame, severity), _reference_zoom_blur(frame, factors), share=0.005)


def test_zoom_factors_are_numpys():
    """np.arange's factors (12/16/11/13/11), not Python's 1 + i step: they differ in the last bits, and at s5 that
    moves the zoomed copies of a 240-row frame (so the comparison above would see it)."""
    params = corruptions.REGISTRY["zoom_blur"].params
    assert params == ((1, 1.11, .01), (1, 1.16, .01), (1, 1.21, .02), (1, 1.26, .02), (1, 1.31, .03))  # SCH, SCH-VL
    assert [len(blurs.zoom_factors(p)) for p in params] == [12, 16, 11, 13, 11]
    factors = blurs.zoom_factors(params[4])
    assert factors.tobytes() == np.arange(1, 1.31, 0.03).tobytes()
    python = [1 + i * 0.03 for i in range(11)]
    assert python[10] != factors[10] and round(185 * python[10]) == 240 and round(185 * factors[10]) == 241
    strip = _frames()[2]
    diff = _reference_zoom_blur(strip, python).astype(int) - _reference_zoom_blur(strip, factors)
    assert (diff != 0).mean() > 0.05
    with pytest.raises(ValueError, match="zoom factors"):          # the old (first, step, count) form
        blurs.zoom_factors((1.0, 0.01, 12))


def test_zoom_taps_are_scipys():
    """One axis of each clipped zoom: the taps' matrix equals scipy's zoom of an identity (its exact weights), for
    every factor of every severity on the sizes that occur (224 views, 240x320 frames) and small ones."""
    for param in corruptions.REGISTRY["zoom_blur"].params:
        for factor in blurs.zoom_factors(param):
            for size in (224, 240, 320, 20):
                crop = int(np.ceil(size / factor))
                start, copy = (size - crop) // 2, scipy_zoom(np.eye(crop), (factor, 1), order=1)
                trim = (len(copy) - size) // 2
                expected = np.zeros((size, size))
                expected[:, start:start + crop] = copy[trim:trim + size]
                ours = np.zeros((size, size))
                for index, weight in blurs._clipped_zoom_taps(size, factor):
                    np.add.at(ours, (np.arange(size), index.numpy()), weight.numpy())
                assert np.abs(ours - expected).max() < 1e-12, (size, factor)


# --- defocus_blur: the disk kernel on its fixed grid, cv2.GaussianBlur of it, cv2.filter2D
def _reference_disk(radius: int, alias_sigma: float) -> np.ndarray:
    import cv2
    grid = np.arange(-8, 9) if radius <= 8 else np.arange(-radius, radius + 1)
    disk = (grid[:, None] ** 2 + grid[None, :] ** 2 <= radius ** 2).astype(np.float32)
    size = 3 if radius <= 8 else 5
    return cv2.GaussianBlur(disk / disk.sum(), ksize=(size, size), sigmaX=alias_sigma)


def test_defocus_kernel_is_the_references():
    """The kernel equals OpenCV's (float32 rounding), mirrored edge taps included: s4 and s5 sum to 1.013 / 1.011."""
    assert corruptions.REGISTRY["defocus_blur"].params == ((3, .1), (4, .5), (6, .5), (8, .5), (10, .5))  # SCH
    sums = []
    for radius, alias_sigma in corruptions.REGISTRY["defocus_blur"].params:
        expected = _reference_disk(radius, alias_sigma)
        ours = blurs._defocus_kernel(radius, alias_sigma).numpy()
        crop = (len(expected) - len(ours)) // 2
        assert np.abs(expected[crop:len(expected) - crop, crop:len(expected) - crop] - ours).max() < 1e-8
        assert expected.sum() == pytest.approx(ours.sum(), abs=1e-6)
        assert np.abs(expected).sum() == pytest.approx(np.abs(ours).sum(), abs=1e-6)  # nothing cropped but zeros
        sums.append(round(float(ours.sum()), 3))
    assert sums == [1.0, 1.0, 1.0, 1.013, 1.011]


@pytest.mark.parametrize("severity", range(1, 6))
def test_defocus_blur_is_the_references(severity):
    """Against cv2.filter2D with the reference's kernel on float32 (SCH-VL, the benchmark files) and float64 (SCH /
    YU) frames. At s1 (sigma 0.1) every tap is 1/29, so a sum of 29 levels divisible by 29 lands exactly on a level,
    where float rounding decides the truncation: the two references disagree there themselves (~1/29 of values;
    SCH's float64 always goes one level down there, as the float32 kernel sums to 1 - 4e-9).
    Flat grey 100 at s4/s5: the kernel's extra 1.3% / 1.1% makes it 101 (at s1-s3 a flat level is such a tie)."""
    import cv2
    kernel = _reference_disk(*corruptions.REGISTRY["defocus_blur"].params[severity - 1])
    grey = np.full((24, 24, 3), 100, np.uint8)
    for frame in _frames()[:2] + ([grey] if severity >= 4 else []):
        ours = _apply("defocus_blur", frame, severity)
        for dtype in (np.float32, np.float64):
            x = (frame / 255.0).astype(dtype)
            ref = np.stack([cv2.filter2D(x[..., c], -1, kernel) for c in range(3)], -1)
            _agrees(ours, np.uint8(np.clip(ref, 0, 1) * 255), share=0.06 if severity == 1 else 0.005)
    if severity >= 4:
        assert (_apply("defocus_blur", grey, severity) == 101).all()


# --- motion_blur: ImageMagick 6 (Q16) MotionBlurImage through Wand, read back from its 8-bit PNG
def _magick_motion_blur(image, radius, sigma, angle):
    """ImageMagick MagickCore/effect.c MotionBlurImage restated per pixel: width = GetOptimalKernelWidth1D = 2 ceil(r)
    + 1, kernel[i] = exp(-i^2 / (2 sigma^2)) / (sqrt(2 pi) sigma), normalised; offset[i] = (ceil(i point.y /
    hypot - 0.5), ceil(i point.x / hypot - 0.5)) with point = (width sin a, width cos a); virtual pixels = edge.
    Q16: the 8-bit input is quantum 257 l, the sum is rounded to the quantum, and the 8-bit PNG truncates q / 257."""
    width = 2 * math.ceil(radius) + 1
    kernel = np.array([np.exp(-(i * i) / (2.0 * sigma * sigma)) / (np.sqrt(2 * np.pi) * sigma) for i in range(width)])
    kernel /= kernel.sum()
    px, py = width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle))
    offsets = [(int(np.ceil(i * py / np.hypot(px, py) - 0.5)), int(np.ceil(i * px / np.hypot(px, py) - 0.5)))
               for i in range(width)]
    h, w = image.shape[:2]
    out = np.zeros(image.shape)
    for y in range(h):
        for x in range(w):
            for k, (ox, oy) in zip(kernel, offsets):
                out[y, x] += k * 257 * image[min(max(y + oy, 0), h - 1), min(max(x + ox, 0), w - 1)]
    return (np.floor(out + 0.5) // 257).astype(np.uint8)


def _angles(severity, seed, frames):
    g = torch.Generator().manual_seed(zlib.crc32(f"motion_blur/{severity}/{seed}".encode()))
    return torch.rand(frames, generator=g, dtype=torch.float64) * 90 - 45       # as apply's generator draws them


@pytest.mark.parametrize("severity", [1, 5])
def test_motion_blur_is_imagemagicks_rule(severity):
    """Each frame equals ImageMagick's rule at the frame's own angle (angles redrawn from apply's seed)."""
    video = np.stack([_photo("coffee", 12, 16), _photo("astronaut", 12, 16)])
    radius, sigma = corruptions.REGISTRY["motion_blur"].params[severity - 1]
    ours = corruptions.apply("motion_blur", torch.from_numpy(video), severity, 0).numpy()
    for f, angle in enumerate(_angles(severity, 0, 2)):
        ref = _magick_motion_blur(video[f].astype(np.float64), radius, sigma, float(angle))
        assert np.abs(ours[f].astype(int) - ref).max() <= 1 and (ours[f] != ref).mean() < 0.01


# ImageMagick 6.9.11-60 Q16 (Debian 12) through Wand 0.7.2, the reference's motion_blur on the 8x12 frame below
# (PNG in, MagickMotionBlurImage(radius, sigma, angle), PNG out, decoded by OpenCV), the angle drawn by
# torch.Generator().manual_seed(seed): the output's bytes (RGB, row-major).
MAGICK_OUTPUT = {
    (1, 0, 42.304770162589776):
        "6180a27290b174a2566c8e677d9e788eab819fbc568b64669a7275a67e81b0888bb38b8e73a1586e906982a37d96b34d845e61957366a8"
        "7e62bc92756467867376957e81a08285a47c9c7692af51835d60967468ae84675c5f7e6b669581648795789a6a89ab7796b97c9bbd9cbc"
        "5291696ca97b775759796964938366885180a25299bb688b697c9e7c8bae8c90b391977262b38b666555837e59a04876994c93b5698b69"
        "85a78579c09e8f6d78a07e89a6848faf4f7b656a8183727c62799c6a74bb7193716bb2908a6873a5838e549ba66772b96e79c05a638f7b"
        "80975e8a947c934c86906e8e488f8b69744289945f6ab17a84cb539ae15aa1e861699546889f66929c859c558f993b99525d96387f4e59"
        "a03077be4b92d961a8ef69b0f7",
    (5, 1, -39.50520527523388):
        "81c8768ad16692d96199e05c9fe648a5ec41aaf138aef53cb2f940b4fb42b6fd44b7fe4583ca788bd26893da639be251a2e93da8ef36ad"
        "f43bb1f83fb5ee43b7f145b9f347baf34888cf7d91d85399e041a1e83ca8ef36afe83db5e143b9d847bddc4bb3e04fb5e150b6e2518fd6"
        "5b98df40a1e83caad638b2d140b9d847b2d14daad652a1db57a5df5ba7e15da8e25e99e040a4de32aecd3cb8ca46a5c54ea0c156a8c85d"
        "a1ce64a6d369aad860adda63aedc64a8d536b4b942b2b84da2aa589fb4629bbd6b97c6749ecd60a4d359a9d85eacce61aecf62b99947b9"
        "a65491a86191b46d83bf788ec97598d365a0db5fa7c766acc06ca2c36fa4c571b5985d769c6b85aa7a87b88793c5799fd05eaac15cb3bc"
        "65a0b76d99bd739dc1779fc378",
}


@pytest.mark.parametrize("key", MAGICK_OUTPUT)
def test_motion_blur_is_imagemagicks_output(key):
    """Bit for bit ImageMagick's output (rounding to the nearest level instead differs on about half the values)."""
    severity, seed, angle = key
    y, x, c = np.meshgrid(np.arange(8), np.arange(12), np.arange(3), indexing="ij")
    frame = torch.from_numpy(((40 + 13 * x + 29 * y + 71 * c + 3 * x * y) % 256).astype(np.uint8))
    assert float(torch.rand(1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 90 - 45) == angle
    blurred = blurs.motion_blur(frame.permute(2, 0, 1)[None].float() / 255,
                                corruptions.REGISTRY["motion_blur"].params[severity - 1],
                                torch.Generator().manual_seed(seed))
    ours = (blurred[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    magick = np.frombuffer(bytes.fromhex(MAGICK_OUTPUT[key]), np.uint8).reshape(8, 12, 3)
    assert (ours != magick).sum() == 0


def test_magick_png8_of_every_quantum():
    """ImageMagick 6.9.11 Q16 writes quantum q as the 8-bit level q // 257 (measured on all 65,536 quanta: its
    PNG writer truncates); the filter's value y is first rounded to the quantum. Not y's nearest level."""
    q = torch.arange(65536, dtype=torch.float64)
    for offset in (-0.49, 0.0, 0.49):                        # anywhere within half a quantum of q
        y = ((q + offset) / 65535).clamp(0, 1).float()
        assert torch.equal((blurs.magick_png8(y) * 255).round().long(), q.long() // 257)


def test_motion_blur_taps_and_dot_displacement():
    """2 ceil(r) + 1 taps; a bright dot moves by sum_i k_i i = 2.09/3.68/6.07/8.99/11.43 px at s = 1..5;
    at 0 deg the taps run along the row, at 45 deg along the diagonal, offsets rounded to the nearest pixel."""
    moved = []
    for radius, sigma in corruptions.REGISTRY["motion_blur"].params:
        weights, cols, rows = blurs.motion_blur_taps(radius, sigma, 0.0)
        assert len(weights) == 2 * radius + 1 and cols == list(range(2 * radius + 1)) and set(rows) == {0}
        moved.append(round(sum(k * i for i, k in enumerate(weights)), 2))
    assert moved == [2.09, 3.68, 6.07, 8.99, 11.43]
    _, cols, rows = blurs.motion_blur_taps(10, 3, 45.0)
    assert cols == rows == [int(np.ceil(i * np.cos(np.pi / 4) - 0.5)) for i in range(21)]
    _, cols, rows = blurs.motion_blur_taps(10, 3, -30.0)
    assert rows[4] == -2 and cols[4] == 3                  # ceil(4 sin(-30) - .5) = ceil(-2.5); ceil(4 cos 30 - .5)
