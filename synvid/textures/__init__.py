"""Texture sources for the textured synthetic datasets (paper Section 3.1, Tables 2, 3, 10, 12; TEXTURES.md).

    generate(source, n_or_ids, *, seed=0, size=256, device="cpu") -> uint8 [n, S, S, 3]
    source(kind, *, seed=0, size=256, device="cpu", imagenet=None, pool_size=300000, bank=None,
           saturated=False, mix_with="statistical") -> TextureSource (pool_size, size, get(ids, device))

    DynamicStyleGAN(seed=0, ...).get_video(ids, frames) / .get_at(ids, t)   (Table 3 latent walks)

Texture k of a seed depends on (seed, k) only: alone, in a batch, or read from a bank, it is the same pixels
(StyleGAN rendered several per forward, as on CUDA: up to one uint8 step from float rounding).
"""
from __future__ import annotations

import torch

from synvid.errors import BadInput

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
    """Dynamic StyleGAN textures (Section 5.2, Table 3): `get` is frame 0; `get_video` the latent walk;
    `get_at` one frame of it without the earlier ones."""

    def __init__(self, *, seed: int = 0, size: int = 256, device="cpu", pool_size: int = 300_000,
                 step: float = 0.1, highfreq: bool = False):
        super().__init__("stylegan_highfreq" if highfreq else "stylegan", seed=seed, size=size, device=device,
                         pool_size=pool_size)
        self.step = step

    def get_video(self, ids, frames: int, device="cpu") -> torch.Tensor:
        """uint8 [K, frames, S, S, 3]: frame t of texture k uses z_t = z_{t-1} + delta_t (all else frozen)."""
        from synvid.textures import stylegan
        variant = "oriented" if self.kind == "stylegan" else "highfreq"
        return stylegan.dynamic_video(torch.as_tensor(ids).tolist(), frames, seed=self.seed, size=self.size,
                                      device=self.device, step=self.step, variant=variant).to(device)

    def get_at(self, ids, t, device="cpu") -> torch.Tensor:
        """uint8 [K, S, S, 3]: frame t of each id's walk (t an int or one per id), equal to
        get_video(ids, t + 1)[:, t]; only z_t is computed (t deltas drawn and summed), no earlier frame."""
        from synvid.textures import stylegan
        ids = torch.as_tensor(ids)
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= self.pool_size):
            raise IndexError(f"texture ids must lie in [0, {self.pool_size})")
        variant = "oriented" if self.kind == "stylegan" else "highfreq"
        return stylegan.dynamic_at(ids.tolist(), t, seed=self.seed, size=self.size, device=self.device,
                                   step=self.step, variant=variant).to(device)


MIX_WITH = ("statistical", "stylegan")


def _bank(root, kind: str, seed: int, size: int, pool_size: int, first: int | None = None):
    """A bank of `kind` textures of `seed`, `size` px and `pool_size` textures (the configured ones: a bank is
    never read as if it were another pool); `first`: use only its first ids (a mix's half), which it must hold."""
    from synvid.textures.banks import Bank
    src = Bank(root)
    if src.manifest["source"] != kind or src.manifest["seed"] != seed:
        raise BadInput(f"bank {root} holds {src.manifest['source']} seed {src.manifest['seed']}, "
                       f"not {kind} seed {seed}")
    wrong = {k: (have, want) for k, have, want in (("texture size", src.size, size),
                                                   ("pool size", src.pool_size, pool_size)) if have != want}
    if first is None and wrong or "texture size" in wrong:
        raise BadInput(f"bank {root} differs from the configured textures: " +
                       ", ".join(f"{k} {have} (configured {want})" for k, (have, want) in wrong.items()) +
                       "; write a bank with the configured pool/size (data_gen/3_1_texture_banks.py --num, "
                       "--size) or set TextureConfig to match it")
    if first is not None:
        if src.pool_size < first:
            raise BadInput(f"bank {root} holds {src.pool_size} textures; the mix needs {first}")
        src.pool_size = first
    return src


def source(kind: str, *, seed: int = 0, size: int = 256, device="cpu", imagenet=None, pool_size: int = 300_000,
           bank=None, saturated: bool = False, mix_with: str = "statistical"):
    """A TextureSource for `kind` (statistical | stylegan | stylegan_highfreq | imagenet | mix).

    `bank`: a directory written by data_gen/3_1_texture_banks.py, read instead of generating (same pixels); for
    `mix`, a bank of `mix_with` textures for the generated half.
    `mix`: pool_size // 2 images (ids below the half) followed by pool_size // 2 `mix_with` textures:
    "statistical" is Table 10's "150k images & 150k statistical textures", "stylegan" Table 2's
    "150k images & 150k StyleGAN".
    `saturated`: add a random per-texture colour (Appendix 9.4, Table 12).
    `imagenet` and `mix` sources hold 2S^2 textures (images resized straight to 512^2 at S = 256, nearest, as the
    authors' offline generator; a mix's generated half repeated to match); generated kinds hold S^2, which the
    renderer reads as their nearest 512^2 enlargement (texel floor(q S / 512)).
    """
    from synvid.textures.image_crops import ImageCrops, Mix, Saturated
    if kind not in KINDS:
        raise BadInput(f"unknown texture kind {kind!r}; choose from {KINDS}")
    if mix_with not in MIX_WITH:
        raise BadInput(f"mix_with must be one of {MIX_WITH}, got {mix_with!r}")
    if kind in GENERATED:
        src = _bank(bank, kind, seed, size, pool_size) if bank else \
            Generated(kind, seed=seed, size=size, device=device, pool_size=pool_size)
    else:
        if not imagenet:
            raise BadInput(f"texture kind {kind!r} needs an ImageFolder directory: pass --imagenet DIR")
        half = pool_size // 2 if kind == "mix" else pool_size
        # images go straight to 2S (512^2 at S = 256), the texture the authors' warp reads (gen_syn_video.py:156)
        src = ImageCrops(imagenet, seed=seed, size=2 * size, pool_size=half)
        if kind == "mix":     # the generated half may come from a bank of `mix_with` (same pixels)
            other = _bank(bank, mix_with, seed, size, pool_size, half) if bank else \
                Generated(mix_with, seed=seed, size=size, device=device, pool_size=half)
            src = Mix(src, other)
        elif bank:
            raise BadInput(f"texture kind {kind!r} reads images from --imagenet; a bank is for generated kinds")
    return Saturated(src, seed=seed) if saturated else src
