"""Texture sources for the textured synthetic datasets (paper Section 3.1, Tables 2, 3, 10, 12; TEXTURES.md).

    source(kind, *, seed=0, size=256, device="cpu", imagenet=None, pool_size=300000, bank=None,
           saturated=False, mix_with="statistical") -> TextureSource (pool_size, size, get(ids, device))

The generated kinds themselves (`generate`, `DynamicStyleGAN`'s Table 3 latent walks): synvid.textures.generated.

Texture k of a seed depends on (seed, k) only: alone, in a batch, or read from a bank, it is the same pixels
(StyleGAN rendered several per forward, as on CUDA: up to one uint8 step from float rounding).
"""
from __future__ import annotations

from synvid.errors import BadInput
from synvid.textures.banks import Bank
from synvid.textures.generated import GENERATED, Generated
from synvid.textures.image_crops import ImageCrops, Mix, Saturated

KINDS = GENERATED + ("imagenet", "mix")


MIX_WITH = ("statistical", "stylegan")


def _bank(root, kind: str, seed: int, size: int, pool_size: int, first: int | None = None):
    """A bank of `kind` textures of `seed`, `size` px and `pool_size` textures (the configured ones: a bank is
    never read as if it were another pool); `first`: use only its first ids (a mix's half), which it must hold."""
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
