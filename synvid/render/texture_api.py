"""Texture interface the renderer fills shapes from (PROTOCOLS §6)."""
from typing import Protocol

import torch


class TextureSource(Protocol):
    pool_size: int   # number of distinct textures; ids are drawn in [0, pool_size)
    size: int        # native side S of the returned textures

    def get(self, ids: torch.Tensor, device) -> torch.Tensor:  # uint8 [K, S, S, 3]
        ...

