"""Texture interface the renderer fills shapes from (PROTOCOLS §6)."""
from typing import Protocol

import torch


class TextureSource(Protocol):
    pool_size: int   # number of distinct textures; ids are drawn in [0, pool_size)
    size: int        # native side S of the returned textures

    def get(self, ids: torch.Tensor, device) -> torch.Tensor:  # uint8 [K, S, S, 3]
        ...


class SolidColor:
    """Texture id -> one uniform RGB colour (deterministic per id): shapes look like the untextured sets."""

    def __init__(self, pool_size: int = 2 ** 24, size: int = 1):
        self.pool_size, self.size = pool_size, size

    def get(self, ids, device):
        ids = ids.to(torch.int64)
        rgb = torch.stack([(ids >> 16) & 255, (ids >> 8) & 255, ids & 255], dim=-1)
        return rgb.to(torch.uint8).view(-1, 1, 1, 3).expand(-1, self.size, self.size, 3).to(device)
