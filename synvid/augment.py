"""Fine-tuning augmentations of a video clip (PROTOCOLS.md §2.3; VM `kinetics.py::VideoClsDataset._aug_frame`):
timm RandAugment on every frame with one op list and one magnitude per clip, normalise, Inception-style random
resized crop, horizontal flip, random erasing of one box through all frames.

Every random draw comes from an explicit `torch.Generator`, so a (seed, epoch, video, repeat) key gives the same
view in any DataLoader worker, on any rank and after a resume.

RandAugment follows timm `rand_augment_transform("rand-m{m}-n{n}-mstd{std}-inc1")` as VM builds it
(`video_transforms.create_random_augment`: bicubic, fill (128, 128, 128), translate 0.45 of the size):
- n ops drawn uniformly with replacement from the 15 "increasing" ops (timm `_RAND_INCREASING_TRANSFORMS`);
- each one applied with probability 0.5 (timm `AugmentOp(prob=0.5)`);
- its magnitude ~ N(m, std) per call, clipped to [0, 10] (timm `AugmentOp.__call__`, `_LEVEL_DENOM = 10`), and a
  signed op (rotate, shear, translate, enhance) flips its sign with probability 0.5 (`_randomly_negate`);
- the ops act on PIL frames (torchvision.transforms.v2.functional's PIL kernels, PIL's affine transform for shear
  and translate about the origin as timm), so each op is pixel-identical to timm's on every frame.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from synvid.errors import BadInput
from synvid.transforms import normalize

LEVEL_DENOM = 10.0                     # timm _LEVEL_DENOM: magnitudes run 0..10
FILL = (128, 128, 128)                 # timm _FILL = img_mean
TRANSLATE_PCT = 0.45                   # timm _translate_rel_level_to_arg default
APPLY_PROB = 0.5                       # timm rand_augment_ops: AugmentOp(prob=0.5)
BICUBIC = TF.InterpolationMode.BICUBIC  # VM --train_interpolation bicubic


def _signed(value: float, negate: bool) -> float:
    return -value if negate else value


def _affine(img: Image.Image, matrix: tuple) -> Image.Image:
    """PIL inverse affine about the origin (timm shear_x/shear_y/translate_*_rel)."""
    return img.transform(img.size, Image.AFFINE, matrix, resample=Image.BICUBIC, fillcolor=FILL)


def _solarize_add(img: Image.Image, add: int, thresh: int = 128) -> Image.Image:
    """Pixels below `thresh` get `add` (saturating at 255), others unchanged (timm solarize_add)."""
    lut = [min(255, i + add) if i < thresh else i for i in range(256)]
    return img.point(lut * len(img.getbands()))


def _posterize(img: Image.Image, bits: int) -> Image.Image:
    """Keep the top `bits` bits of every channel, 0..8. Current Pillow (and so timm) refuses bits = 0, which
    PosterizeIncreasing reaches at magnitude 10 (N(9, 0.5) draws it for about 1 clip in 900); the Pillow VideoMAE
    ran with masked with ~(2**8 - 1) and so returned black, which this LUT gives, as it gives Pillow's result for
    1..7 bits."""
    if bits >= 8:
        return img
    mask = ~(2 ** (8 - bits) - 1) & 0xFF
    return img.point([i & mask for i in range(256)] * len(img.getbands()))


def _enhance_factor(m: float, negate: bool) -> float:
    """1 +- 0.9 m/10, kept >= 0.1 (timm _enhance_increasing_level_to_arg)."""
    return max(0.1, 1.0 + _signed(m / LEVEL_DENOM * 0.9, negate))


# name -> (level (0..10), negate) -> op argument; the "inc" variants grow in strength with the level
# (timm auto_augment.LEVEL_TO_ARG for the names of _RAND_INCREASING_TRANSFORMS).
LEVEL_TO_ARG: dict[str, Callable[[float, bool], float | int | None]] = {
    "AutoContrast": lambda m, s: None,
    "Equalize": lambda m, s: None,
    "Invert": lambda m, s: None,
    "Rotate": lambda m, s: _signed(m / LEVEL_DENOM * 30.0, s),                       # degrees
    "PosterizeIncreasing": lambda m, s: 4 - int(m / LEVEL_DENOM * 4),                 # bits kept 4..0
    "SolarizeIncreasing": lambda m, s: 256 - min(256, int(m / LEVEL_DENOM * 256)),    # threshold
    "SolarizeAdd": lambda m, s: min(128, int(m / LEVEL_DENOM * 110)),
    "ColorIncreasing": _enhance_factor,          # enhance factor
    "ContrastIncreasing": _enhance_factor,
    "BrightnessIncreasing": _enhance_factor,
    "SharpnessIncreasing": _enhance_factor,
    "ShearX": lambda m, s: _signed(m / LEVEL_DENOM * 0.3, s),
    "ShearY": lambda m, s: _signed(m / LEVEL_DENOM * 0.3, s),
    "TranslateXRel": lambda m, s: _signed(m / LEVEL_DENOM * TRANSLATE_PCT, s),        # fraction of the width
    "TranslateYRel": lambda m, s: _signed(m / LEVEL_DENOM * TRANSLATE_PCT, s),
}

# name -> (PIL frame, argument) -> PIL frame
OPS: dict[str, Callable[[Image.Image, object], Image.Image]] = {
    "AutoContrast": lambda im, a: TF.autocontrast(im),
    "Equalize": lambda im, a: TF.equalize(im),
    "Invert": lambda im, a: TF.invert(im),
    "Rotate": lambda im, a: TF.rotate(im, a, interpolation=BICUBIC, fill=list(FILL)),
    "PosterizeIncreasing": _posterize,
    "SolarizeIncreasing": lambda im, a: TF.solarize(im, a),
    "SolarizeAdd": _solarize_add,
    "ColorIncreasing": TF.adjust_saturation,       # PIL kernel = ImageEnhance.Color
    "ContrastIncreasing": TF.adjust_contrast,      # ImageEnhance.Contrast
    "BrightnessIncreasing": TF.adjust_brightness,  # ImageEnhance.Brightness
    "SharpnessIncreasing": TF.adjust_sharpness,    # ImageEnhance.Sharpness
    "ShearX": lambda im, a: _affine(im, (1, a, 0, 0, 1, 0)),
    "ShearY": lambda im, a: _affine(im, (1, 0, 0, a, 1, 0)),
    "TranslateXRel": lambda im, a: _affine(im, (1, 0, a * im.size[0], 0, 1, 0)),
    "TranslateYRel": lambda im, a: _affine(im, (1, 0, 0, 0, 1, a * im.size[1])),
}
OP_NAMES = tuple(LEVEL_TO_ARG)  # timm's order of _RAND_INCREASING_TRANSFORMS


class AugmentError(RuntimeError):
    """An augmentation op failed on a decoded clip: a bug or an unsupported frame, never an unreadable video, so it
    is not a VideoReadError (which the datasets skip) and it keeps its traceback."""


def _uniform(generator: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


class VideoRandAugment:
    """timm `rand-m{magnitude}-n{num_ops}-mstd{magnitude_std}-inc1` with one draw per clip."""

    def __init__(self, magnitude: float, num_ops: int, magnitude_std: float, prob: float = APPLY_PROB):
        if num_ops < 0 or not 0 <= magnitude <= LEVEL_DENOM or magnitude_std < 0:
            raise BadInput(f"RandAugment needs num_ops >= 0, 0 <= magnitude <= 10, std >= 0; got n={num_ops}, "
                           f"m={magnitude}, std={magnitude_std}")
        self.magnitude, self.num_ops, self.std, self.prob = float(magnitude), int(num_ops), magnitude_std, prob

    def draw(self, generator: torch.Generator) -> list[tuple[str, float, object]]:
        """The ops applied to one clip: [(name, magnitude, argument)], in order; skipped ops are left out."""
        chosen = torch.randint(len(OP_NAMES), (self.num_ops,), generator=generator).tolist()  # with replacement
        applied = []
        for k in chosen:
            if _uniform(generator) > self.prob:  # timm: skip when random() > prob
                continue
            m = self.magnitude
            if self.std > 0:
                m += self.std * float(torch.randn((), generator=generator, dtype=torch.float64))
            m = max(0.0, min(m, LEVEL_DENOM))
            negate = _uniform(generator) > 0.5
            applied.append((OP_NAMES[k], m, LEVEL_TO_ARG[OP_NAMES[k]](m, negate)))
        return applied

    def __call__(self, clip: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 [T,H,W,3] -> uint8 [T,H,W,3]; the same ops and arguments on every frame."""
        ops = self.draw(generator)
        if not ops:
            return clip
        frames = [Image.fromarray(f) for f in clip.numpy()]
        for name, magnitude, arg in ops:
            try:
                frames = [OPS[name](f, arg) for f in frames]
            except Exception as error:
                raise AugmentError(f"RandAugment op {name} at magnitude {magnitude:.3f} (argument {arg}) failed on "
                                   f"a {tuple(clip.shape)} clip: {error}") from error
        return torch.from_numpy(np.stack([np.asarray(f) for f in frames]))


def random_resized_crop(x: torch.Tensor, size: int, generator: torch.Generator, scale=(0.08, 1.0),
                        ratio=(0.75, 1.3333)) -> torch.Tensor:
    """float [T,C,H,W] -> [T,C,size,size]: VM `_get_param_spatial_crop` (10 tries, log-uniform aspect, else the
    centre crop) then `random_resized_crop` (bilinear, align_corners=False, no antialias). VM passes
    aspect (0.75, 1.3333)."""
    height, width = x.shape[-2:]
    box = None
    for _ in range(10):
        area = _uniform(generator, *scale) * height * width
        aspect = math.exp(_uniform(generator, math.log(ratio[0]), math.log(ratio[1])))
        w, h = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(height - h + 1, (), generator=generator))
            left = int(torch.randint(width - w + 1, (), generator=generator))
            box = (top, left, h, w)
            break
    if box is None:  # VM fallback: the centre crop of the aspect range
        w, h = width, height
        if width / height < min(ratio):
            h = int(round(w / min(ratio)))
        elif width / height > max(ratio):
            w = int(round(h * max(ratio)))
        box = ((height - h) // 2, (width - w) // 2, h, w)
    top, left, h, w = box
    return F.interpolate(x[..., top:top + h, left:left + w], size=(size, size), mode="bilinear", align_corners=False)


def erase_cube(x: torch.Tensor, prob: float, generator: torch.Generator, area=(0.02, 1 / 3),
               min_aspect: float = 0.3) -> torch.Tensor:
    """VM `RandomErasing(mode='pixel', cube=True)._erase_cube` on float [T,C,H,W] (in place, returned): with
    probability `prob` one box (100 tries; area U(0.02, 1/3), log-uniform aspect in (0.3, 1/0.3)) at the same place
    in every frame, filled with N(0, 1) noise drawn anew for each frame (VM calls `_get_pixels` per frame)."""
    if prob <= 0 or _uniform(generator) > prob:
        return x
    height, width = x.shape[-2:]
    for _ in range(100):
        target = _uniform(generator, *area) * height * width
        aspect = math.exp(_uniform(generator, math.log(min_aspect), math.log(1 / min_aspect)))
        h, w = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if w < width and h < height:
            top = int(torch.randint(height - h + 1, (), generator=generator))
            left = int(torch.randint(width - w + 1, (), generator=generator))
            x[:, :, top:top + h, left:left + w] = torch.randn((x.shape[0], x.shape[1], h, w), generator=generator,
                                                             dtype=x.dtype)
            break
    return x


def train_augment(cfg) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """uint8 [T,H,W,3], generator -> float [3,T,S,S], in VM's order: RandAugment, normalise, random resized crop,
    flip (p 0.5), random erasing (p `random_erase`)."""
    randaug = VideoRandAugment(cfg.randaug_magnitude, cfg.randaug_num_ops, cfg.randaug_std)

    def apply(clip: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = normalize(randaug(clip, generator)).permute(1, 0, 2, 3)      # float [T,C,H,W], normalised first (VM)
        x = random_resized_crop(x, cfg.input_size, generator)
        if cfg.flip and _uniform(generator) < 0.5:                       # VM horizontal_flip(0.5)
            x = x.flip(-1)
        x = erase_cube(x.contiguous(), cfg.random_erase, generator)
        return x.permute(1, 0, 2, 3).contiguous()                        # [3,T,S,S]
    return apply
