"""Generated texture kinds (statistical, StyleGAN, high-frequency StyleGAN): texture k of a seed from (seed, k)."""
from __future__ import annotations

import torch

from synvid.errors import BadInput
from synvid.textures import statistical, stylegan

GENERATED = ("statistical", "stylegan", "stylegan_highfreq")
STYLEGAN_VARIANT = {"stylegan": "oriented", "stylegan_highfreq": "highfreq"}   # synvid.textures.stylegan variants


def generate(source: str, n, *, seed: int = 0, size: int = 256, device="cpu") -> torch.Tensor:
    """n textures (ids 0..n-1), or the given ids when `n` is a sequence/tensor -> uint8 [K, S, S, 3]."""
    ids = torch.arange(n) if isinstance(n, int) else torch.as_tensor(n)
    ids = ids.tolist()
    if source == "statistical":
        return statistical.generate(ids, seed=seed, size=size, device=device)
    if source in STYLEGAN_VARIANT:
        return stylegan.generate(ids, seed=seed, size=size, device=device, variant=STYLEGAN_VARIANT[source])
    raise BadInput(f"unknown generated texture source {source!r}; choose from {GENERATED}")


class Generated:
    """TextureSource generating textures on the fly from (seed, id)."""

    def __init__(self, kind: str, *, seed: int = 0, size: int = 256, device="cpu", pool_size: int = 300_000):
        if kind not in GENERATED:
            raise BadInput(f"unknown generated texture source {kind!r}; choose from {GENERATED}")
        self.kind, self.seed, self.size, self.device, self.pool_size = kind, seed, size, device, pool_size

    def get(self, ids, device="cpu") -> torch.Tensor:
        ids = torch.as_tensor(ids)
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= self.pool_size):
            raise IndexError(f"texture ids must lie in [0, {self.pool_size})")
        return generate(self.kind, ids, seed=self.seed, size=self.size, device=self.device).to(device)


class DynamicStyleGAN(Generated):
    """Dynamic StyleGAN textures (Section 5.2, Table 3): `get` is frame 0 of the latent walk; `get_at` frame t of
    it without the earlier ones (stylegan.dynamic_video renders the whole walk)."""

    def __init__(self, *, seed: int = 0, size: int = 256, device="cpu", pool_size: int = 300_000,
                 step: float = 0.1, highfreq: bool = False):
        super().__init__("stylegan_highfreq" if highfreq else "stylegan", seed=seed, size=size, device=device,
                         pool_size=pool_size)
        self.step = step

    def get_at(self, ids, t, device="cpu") -> torch.Tensor:
        """uint8 [K, S, S, 3]: frame t of each id's walk (t an int or one per id), equal to
        stylegan.dynamic_video(ids, t + 1)[:, t] of the same settings; only z_t is computed (t deltas drawn and
        summed), no earlier frame."""
        ids = torch.as_tensor(ids)
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= self.pool_size):
            raise IndexError(f"texture ids must lie in [0, {self.pool_size})")
        return stylegan.dynamic_at(ids.tolist(), t, seed=self.seed, size=self.size, device=self.device,
                                   step=self.step, variant=STYLEGAN_VARIANT[self.kind]).to(device)
