"""Texture sources for the textured synthetic datasets (paper Section 3.1, Tables 2, 3, 10, 12; TEXTURES.md).

    generate(source, n_or_ids, *, seed=0, size=256, device="cpu") -> uint8 [n, S, S, 3]
    source(kind, *, seed=0, size=256, device="cpu", imagenet=None, pool_size=300000, bank=None,
           saturated=False) -> TextureSource (pool_size, size, get(ids, device))

Texture k of a seed depends on (seed, k) only: alone, in a batch, or read from a bank, it is the same pixels.
"""
from __future__ import annotations

import torch

GENERATED = ("statistical", "stylegan", "stylegan_highfreq")
KINDS = GENERATED + ("imagenet", "mix")


def generate(source: str, n, *, seed: int = 0, size: int = 256, device="cpu") -> torch.Tensor:
    """n textures (ids 0..n-1), or the given ids when `n` is a sequence/tensor -> uint8 [K, S, S, 3]."""
    ids = torch.arange(n) if isinstance(n, int) else torch.as_tensor(n)
    ids = ids.tolist()
    if source == "statistical":
        from synvid.textures import statistical
        return statistical.generate(ids, seed=seed, size=size, device=device)
    if source in ("stylegan", "stylegan_highfreq"):
        from synvid.textures import stylegan
        variant = "oriented" if source == "stylegan" else "highfreq"
        return stylegan.generate(ids, seed=seed, size=size, device=device, variant=variant)
    raise ValueError(f"unknown generated texture source {source!r}; choose from {GENERATED}")


class Generated:
    """TextureSource generating textures on the fly from (seed, id)."""

    def __init__(self, kind: str, *, seed: int = 0, size: int = 256, device="cpu", pool_size: int = 300_000):
        if kind not in GENERATED:
            raise ValueError(f"unknown generated texture source {kind!r}; choose from {GENERATED}")
        self.kind, self.seed, self.size, self.device, self.pool_size = kind, seed, size, device, pool_size

    def get(self, ids, device="cpu") -> torch.Tensor:
        ids = torch.as_tensor(ids)
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= self.pool_size):
            raise IndexError(f"texture ids must lie in [0, {self.pool_size})")
        return generate(self.kind, ids, seed=self.seed, size=self.size, device=self.device).to(device)


class DynamicStyleGAN(Generated):
    """Dynamic StyleGAN textures (Section 5.2, Table 3): `get` is frame 0; `get_video` the latent walk."""

    def __init__(self, *, seed: int = 0, size: int = 256, device="cpu", pool_size: int = 300_000,
                 step: float = 0.1, highfreq: bool = False):
        super().__init__("stylegan_highfreq" if highfreq else "stylegan", seed=seed, size=size, device=device,
                         pool_size=pool_size)
        self.step = step

    def get_video(self, ids, frames: int, device="cpu") -> torch.Tensor:
        """uint8 [K, frames, S, S, 3]: frame t of texture k uses z_t = z_{t-1} + delta_t (all else frozen)."""
        from synvid.textures import stylegan
        variant = "oriented" if self.kind == "stylegan" else "highfreq"
        vids = [stylegan.dynamic(int(k), frames, seed=self.seed, size=self.size, device=self.device,
                                 step=self.step, variant=variant) for k in torch.as_tensor(ids).tolist()]
        return torch.stack(vids).to(device)


def source(kind: str, *, seed: int = 0, size: int = 256, device="cpu", imagenet=None, pool_size: int = 300_000,
           bank=None, saturated: bool = False):
    """A TextureSource for `kind` (statistical | stylegan | stylegan_highfreq | imagenet | mix).

    `bank`: a directory written by data_gen/3_1_texture_banks.py, read instead of generating (same pixels).
    `mix`: pool_size // 2 images followed by pool_size // 2 statistical textures (Tables 2, 10: 150k + 150k).
    `saturated`: add a random per-texture colour (Appendix 9.4, Table 12).
    """
    from synvid.textures.image_crops import ImageCrops, Mix, Saturated
    if kind not in KINDS:
        raise ValueError(f"unknown texture kind {kind!r}; choose from {KINDS}")
    if bank is not None:
        from synvid.textures.banks import Bank
        src = Bank(bank)
        if src.manifest["source"] != kind or src.manifest["seed"] != seed:
            raise ValueError(f"bank {bank} holds {src.manifest['source']} seed {src.manifest['seed']}, "
                             f"not {kind} seed {seed}")
    elif kind in GENERATED:
        src = Generated(kind, seed=seed, size=size, device=device, pool_size=pool_size)
    else:
        if not imagenet:
            raise ValueError(f"texture kind {kind!r} needs an ImageFolder directory: pass --imagenet DIR")
        half = pool_size // 2 if kind == "mix" else pool_size
        src = ImageCrops(imagenet, seed=seed, size=size, pool_size=half)
        if kind == "mix":
            src = Mix(src, Generated("statistical", seed=seed, size=size, device=device, pool_size=half))
    return Saturated(src, seed=seed) if saturated else src
