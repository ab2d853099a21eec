"""The fixed 3x3 filter banks of StyleGAN-Oriented and StyleGAN-High-freq (TEXTURES.md §2.2, §2.5)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from PIL import Image

_ANGLES8 = np.arange(8) * 22.5
_DX, _DY = np.meshgrid([-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0])   # column and row offsets


def _edge(theta_deg: float) -> np.ndarray:
    t = np.deg2rad(theta_deg)
    return np.clip(-_DX * np.cos(t) + _DY * np.sin(t), -1, 1)


def _line(theta_deg: float) -> np.ndarray:
    """11x11 ones with a -1 centre column, PIL-bilinear rotated about the centre, centre 3x3, mean removed."""
    img = np.ones((11, 11), np.float32)
    img[:, 5] = -1
    rot = np.asarray(Image.fromarray(img, mode="F").rotate(theta_deg, resample=Image.BILINEAR), np.float64)
    crop = rot[4:7, 4:7]
    return crop - crop.mean()


def _blobs() -> list[np.ndarray]:
    impulse = np.zeros((3, 3))
    impulse[1, 1] = 1
    centre_surround = -np.ones((3, 3))
    centre_surround[1, 1] = 1
    cross = np.zeros((3, 3))
    cross[1, :] = cross[:, 1] = 1
    cross_corners = cross.copy()
    cross_corners[[0, 0, 2, 2], [0, 2, 0, 2]] = -1
    return [impulse, centre_surround, cross, cross_corners]


@lru_cache(maxsize=2)
def oriented_bank() -> torch.Tensor:
    """40 filters [40, 3, 3]: 8 edges, 8 lines, 4 blobs, then their negatives (§2.2 step 1)."""
    base = [_edge(a) for a in _ANGLES8] + [_line(a) for a in _ANGLES8] + _blobs()
    base = np.stack(base)
    return torch.from_numpy(np.concatenate([base, -base])).float()


@lru_cache(maxsize=2)
def highfreq_bank() -> torch.Tensor:
    """40 ternary filters: sign of 16 edges over 360 deg, +-sign of 8 lines, +-4 blobs (§2.5)."""
    edges = [np.sign(np.round(_edge(a), 6)) for a in np.arange(16) * 22.5]
    lines = [np.sign(np.round(_line(a), 6)) for a in _ANGLES8]
    base = np.stack(lines + _blobs())
    return torch.from_numpy(np.concatenate([np.stack(edges), base, -base])).float()
