"""Per-texture random streams: texture k of a seed depends on (seed, k, tag) only, never on batch position."""
from __future__ import annotations

import numpy as np
import torch

# Distinct tags keep the streams of different generators independent for the same (seed, k).
TAGS = {"statistical": 1, "stylegan": 2, "stylegan_highfreq": 3, "imagenet": 4, "mix": 5, "saturated": 6,
        "dynamic": 7, "dynamic_affine": 8}


def np_rng(seed: int, k: int, tag: str) -> np.random.Generator:
    """A numpy Generator seeded by SeedSequence([tag, seed, k]) (TEXTURES.md §0: one stream per image index)."""
    return np.random.default_rng([TAGS[tag], int(seed) & 0xFFFFFFFF, int(k)])


def torch_gen(seed: int, k: int, tag: str) -> torch.Generator:
    """A CPU torch.Generator derived from the same (seed, k, tag) stream."""
    g = torch.Generator()
    g.manual_seed(int(np_rng(seed, k, tag).integers(0, 2**62)))
    return g
