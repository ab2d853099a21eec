"""The texture source of each registered textured dataset (synvid.progression specs -> synvid.textures sources),
built once per process; and the per-frame views of a dynamic (latent-walk) source the renderer reads."""
from typing import Optional

from synvid import progression
from synvid.config import TextureConfig
from synvid.errors import BadInput, MissingInput
from synvid.textures import source
from synvid.textures.generated import DynamicStyleGAN
from synvid.textures.image_crops import Saturated

_SOURCES: dict = {}                          # built texture sources, one per (name, seed, device, imagenet, ...)


def texture_source(name: str, seed: int = 0, device="cpu", imagenet: str = "",
                   tex_cfg: Optional[TextureConfig] = None, bank: str = ""):
    """The texture source of a textured set, built lazily and kept per process.
    `tex_cfg` (a profile's TextureConfig) sets the texture size and scales every pool by pool_size / 300k;
    `bank`: a texture bank (data_gen/3_1_texture_banks.py) read instead of generating (same pixels)."""
    spec = progression.spec(name)
    kind = spec.texture
    if kind is None:
        raise BadInput(f"{name} has no texture source (background='image' needs one: pass textures=...)")
    if kind in ("imagenet", "mix") and not imagenet:
        raise MissingInput(f"{name} needs an ImageNet directory (--imagenet DIR / TextureConfig.imagenet)")
    tex_cfg = tex_cfg or TextureConfig()
    key = (name, seed, str(device), imagenet, tex_cfg.size, tex_cfg.pool_size, bank)
    if key not in _SOURCES:
        scale = tex_cfg.pool_size / TextureConfig.pool_size
        pool = max(1, round((spec.texture_pool or TextureConfig.pool_size) * scale))
        kw = dict(seed=seed, size=tex_cfg.size, device=device, pool_size=pool)
        if spec.dynamic:
            if bank:
                raise BadInput(f"{name} walks StyleGAN latents frame by frame; a texture bank holds static "
                               "textures (generate on the fly: drop --bank)")
            src = DynamicStyleGAN(highfreq=kind == "stylegan_highfreq", **kw)
            _SOURCES[key] = SaturatedWalk(src, seed) if spec.saturated else src
        else:
            mix = dict(mix_with=spec.mix_with) if spec.mix_with else {}
            _SOURCES[key] = source(kind, imagenet=imagenet or None, saturated=spec.saturated, bank=bank or None,
                                   **mix, **kw)
    return _SOURCES[key]


def frame_of(textures, ids, t, dynamic: bool, device):
    """Texture ids at frame t: a dynamic source's latent-walk frame t (get_at), else the static texture."""
    if not dynamic:
        return textures.get(ids, device)
    if not hasattr(textures, "get_at"):
        raise TypeError(f"a dynamic texture set needs a source with get_at(ids, t, device); got {type(textures)}")
    return textures.get_at(ids, t, device)


class AtFrame:
    """A TextureSource view of a dynamic source frozen at frame t (what the rasterisers read)."""

    def __init__(self, src, t):
        self.src, self.t, self.pool_size, self.size = src, t, src.pool_size, src.size

    def get(self, ids, device):
        return frame_of(self.src, ids, self.t, True, device)


class SaturatedWalk:
    """Table 12 "Moving Dynamic StyleGAN crops": synvid.textures' Saturated colour law (per id) applied to every
    frame of a dynamic source (Saturated itself has no get_at)."""

    def __init__(self, base, seed):
        self.base, self.seed, self.pool_size, self.size = base, seed, base.pool_size, base.size

    def get(self, ids, device="cpu"):
        return Saturated(self.base, seed=self.seed).get(ids, device)

    def get_at(self, ids, t, device="cpu"):
        return Saturated(AtFrame(self.base, t), seed=self.seed).get(ids, device)
