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


def _rotated_centre(centre_column: float, right_value: float, theta_deg: float) -> np.ndarray:
    """float32 [3, 3]: an 11x11 image of ones whose column 5 is `centre_column` and columns 6.. `right_value`,
    PIL-bilinear rotated by theta about its centre pixel (a float 'F' image, as the originals build it), centre
    3x3 crop."""
    img = np.ones((11, 11), np.float32)
    img[:, 5] = centre_column
    img[:, 6:] = right_value
    return np.asarray(Image.fromarray(img).rotate(theta_deg, resample=Image.BILINEAR))[4:7, 4:7]


def _line(theta_deg: float) -> np.ndarray:
    """11x11 ones with a -1 centre column, PIL-bilinear rotated about the centre, centre 3x3, mean removed."""
    crop = _rotated_centre(-1.0, 1.0, theta_deg).astype(np.float64)
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
    """40 ternary filters [40, 3, 3] in the order of the original's `get_wavelets()` (mbaradad/learning_with_noise
    `training/network_randomized.py`): 16 edges over 360 deg, then each of 8 lines over 180 deg followed by its
    negative, then each of the 4 blobs followed by its negative.

    Edges: sign of the mean-removed crop of the rotated (+1 | 0 | -1) column profile, in float32 as the original
    computes it. At 45/135/225/315 deg the crop's zero taps carry PIL's ~1e-15 rounding residue, which the
    float32 mean removal turns into a sign, so those four filters have no zero tap (as in the original).
    Lines: sign of the raw crop of the rotated ones-with-a-(-1)-column image, with no mean removal."""
    edges = []
    for theta in np.arange(16) * 22.5:
        crop = _rotated_centre(0.0, -1.0, theta)
        edges.append(np.sign(crop - crop.mean()))
    lines = [np.sign(_rotated_centre(-1.0, 1.0, theta)) for theta in _ANGLES8]
    signed_pairs = [s * f for f in lines + _blobs() for s in (1, -1)]
    return torch.from_numpy(np.stack(edges + signed_pairs).astype(np.float32))
