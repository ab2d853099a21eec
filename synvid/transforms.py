"""The only transforms the protocol uses (PROTOCOLS §2.2, §2.4).

Clips are uint8 tensors [T, H, W, 3] until `normalize`, which returns float [3, T, H, W].
Randomness comes from an explicit `torch.Generator`, so a (seed, sample) pair always gives the same view.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from synvid.errors import BadInput

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # PROTOCOLS §2.2
IMAGENET_STD = (0.229, 0.224, 0.225)
SCALES = (1.0, 0.875, 0.75, 0.66)      # VM datasets.py DataAugmentationForVideoMAE


def _resize(clip: torch.Tensor, h: int, w: int, antialias: bool) -> torch.Tensor:
    """uint8 [T,H,W,3] -> uint8 [T,h,w,3], bilinear."""
    x = clip.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=antialias)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


class MultiScaleCrop:
    """VM `GroupMultiScaleCrop(size, scales, max_distort=1, fix_crop=True, more_fix_crop=True)`.

    1. base = short side, candidate sizes int(base * s); a size within 2 px of `size` snaps to it (VM `< 3`);
    2. a (w, h) pair of candidate indices (i, j) with |i - j| <= max_distort, uniformly;
    3. one of 13 fixed offsets on a (W-w)//4, (H-h)//4 grid, uniformly;
    4. crop, then bilinear resize to size x size (PIL BILINEAR in VM, hence antialias; aspect not kept).
    """

    def __init__(self, size: int = 224, scales=SCALES, max_distort: int = 1):
        self.size, self.scales, self.max_distort = int(size), tuple(scales), int(max_distort)

    def crop_sizes(self, width: int, height: int) -> list[int]:
        base = min(width, height)
        return [self.size if abs(int(base * s) - self.size) < 3 else int(base * s) for s in self.scales]

    def pairs(self, width: int, height: int) -> list[tuple[int, int]]:
        """All allowed (crop_w, crop_h) pairs, in VM's loop order (h outer, w inner)."""
        sizes = self.crop_sizes(width, height)
        return [(w, h) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= self.max_distort]

    @staticmethod
    def offsets(width: int, height: int, crop_w: int, crop_h: int) -> list[tuple[int, int]]:
        """The 13 fixed (x, y) offsets of VM `fill_fix_offset(more_fix_crop=True)`."""
        ws, hs = (width - crop_w) // 4, (height - crop_h) // 4
        grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2),                   # corners + centre
                (0, 2), (4, 2), (2, 4), (2, 0),                           # edge midpoints
                (1, 1), (3, 1), (1, 3), (3, 3)]                           # quarter points
        return [(a * ws, b * hs) for a, b in grid]

    def params(self, width: int, height: int, generator: torch.Generator | None = None) -> tuple[int, int, int, int]:
        """-> (x, y, crop_w, crop_h) drawn from `generator`."""
        pairs = self.pairs(width, height)
        w, h = pairs[int(torch.randint(len(pairs), (1,), generator=generator))]
        offs = self.offsets(width, height, w, h)
        x, y = offs[int(torch.randint(len(offs), (1,), generator=generator))]
        return x, y, w, h

    def __call__(self, clip: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """uint8 [T,H,W,3] -> uint8 [T,size,size,3]; the same crop on every frame."""
        _, height, width, _ = clip.shape
        x, y, w, h = self.params(width, height, generator)
        return _resize(clip[:, y:y + h, x:x + w], self.size, self.size, antialias=True)


def _mean_std(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet mean and std shaped [3, 1, 1, 1], to broadcast over [..., 3, T, H, W]."""
    return x.new_tensor(IMAGENET_MEAN)[:, None, None, None], x.new_tensor(IMAGENET_STD)[:, None, None, None]


def normalize(clip: torch.Tensor) -> torch.Tensor:
    """uint8 [...,T,H,W,3] -> float [...,3,T,H,W] on [0,1] pixels with ImageNet mean/std (PROTOCOLS §2.2)."""
    x = clip.movedim(-1, -4).float().div_(255)
    mean, std = _mean_std(x)
    return (x - mean) / std


def unnormalize(videos: torch.Tensor) -> torch.Tensor:
    """`normalize` undone: float [...,3,T,H,W] -> the same on [0,1] pixels."""
    mean, std = _mean_std(videos)
    return videos * std + mean


def short_side_resize(clip: torch.Tensor, size: int = 224) -> torch.Tensor:
    """uint8 [T,H,W,3] with the short side resized to `size`, aspect kept (VM resize_clip, cv2 bilinear):
    the long side becomes int(size * long / short), e.g. 320x240 -> 298x224 (PROTOCOLS §2.4)."""
    _, h, w, _ = clip.shape
    nh, nw = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    if (nh, nw) == (h, w):
        return clip
    return _resize(clip, nh, nw, antialias=False)  # cv2 INTER_LINEAR does not antialias


def crop_offsets(long_side: int, size: int = 224, num_crops: int = 3) -> list[int]:
    """Offsets of the spatial test crops along the long side: int(j * (L - size) / (num_crops - 1))
    (PROTOCOLS §2.4; 298 -> 0, 37, 74)."""
    step = (long_side - size) / max(num_crops - 1, 1)
    return [int(j * step) for j in range(num_crops)]


def three_crops(clip: torch.Tensor, size: int = 224, num_crops: int = 3) -> list[torch.Tensor]:
    """Square `size` crops along the long side at `crop_offsets`; expects a clip already resized by
    `short_side_resize` (e.g. 298 px wide -> x = 0, 37, 74)."""
    _, h, w, _ = clip.shape
    if min(h, w) < size:
        raise BadInput(f"clip {h}x{w} is smaller than the crop size {size}; resize the short side first")
    return [clip[:, start:start + size, :size] if h > w else clip[:, :size, start:start + size]
            for start in crop_offsets(max(h, w), size, num_crops)]
