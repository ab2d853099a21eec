"""The synthetic video progression of Section 3.1 (Table 8, Appendix 9.2, PROTOCOLS §6-7).

Every video is a pure function of (name, index, seed); each frame is computed in closed form.
"""
from dataclasses import dataclass, replace
from typing import Optional, Sequence

import torch

from synvid.config import RenderConfig, TextureConfig
from synvid.render import dynamics, shapes

ALL = dynamics.KINDS


@dataclass(frozen=True)
class Spec:
    kinds: tuple = ALL
    moving: bool = True
    affine: bool = False
    accelerating: bool = False
    texture: Optional[str] = None          # synvid.textures.source kind, None = uniform colour
    speed_multiplier: float = 1.0          # §9.4 / Table 9 slower ablation: 0.5
    background: str = "black"
    num_videos: Optional[int] = None       # fixed set size (textured: 9,537) or None = on the fly


_ACC = Spec(affine=True, accelerating=True)
DATASETS = {
    "static_circles": Spec(kinds=("circle",), moving=False),          # Q24: v = 0, no transform
    "moving_circles": Spec(kinds=("circle",)),
    "moving_shapes": Spec(),
    "moving_transforming_shapes": Spec(affine=True),
    "accelerating_transforming_shapes": _ACC,
    "accelerating_transforming_textures": replace(_ACC, texture="statistical", num_videos=9537),
    "accelerating_transforming_stylegan": replace(_ACC, texture="stylegan", num_videos=9537),
    "accelerating_transforming_image_crops": replace(_ACC, texture="imagenet", num_videos=9537),
}
NAMES = tuple(DATASETS)
for _n in NAMES[1:5]:                       # §9.4 / Table 9: the slower-motion ablation
    DATASETS[_n + "_slow"] = replace(DATASETS[_n], speed_multiplier=0.5)


def _spec(name: str) -> Spec:
    if name not in DATASETS:
        raise KeyError(f"unknown synthetic dataset {name!r}; registered: {', '.join(DATASETS)}")
    return DATASETS[name]


def num_frames(name: str, index: int, seed: int = 0, cfg: RenderConfig = RenderConfig()) -> int:
    """Video length ~ U(min_frames, max_frames) inclusive (§9.2, authors' randint(100, 200))."""
    _spec(name)
    if index < 0:
        raise ValueError(f"video index must be >= 0, got {index}")
    return int(dynamics.rng_for(seed, name, index, 1).integers(cfg.min_frames, cfg.max_frames + 1))


def texture_source(name: str, seed: int = 0, size: int = 256, device="cpu", imagenet: str = ""):
    """The texture source of a textured set, built lazily by synvid.textures (issue 4)."""
    kind = _spec(name).texture
    if kind == "imagenet" and not imagenet:
        raise FileNotFoundError(f"{name} needs an ImageNet directory (--imagenet DIR / TextureConfig.imagenet)")
    try:
        from synvid import textures as tex_mod
        make = tex_mod.source
    except (ImportError, AttributeError) as e:
        raise RuntimeError(f"{name} needs texture source {kind!r} but synvid.textures.source is "
                           f"unavailable ({e}); pass textures=... explicitly") from e
    return make(kind, seed=seed, size=TextureConfig.size, device=device, imagenet=imagenet or None)


def render(name: str, index: int, *, seed: int = 0, frames: Optional[Sequence[int]] = None,
           size: int = 256, device="cpu", textures=None, cfg: Optional[RenderConfig] = None,
           imagenet: str = "") -> torch.Tensor:
    """Video `index` of dataset `name` -> uint8 [T, size, size, 3] (frames=None: the whole video)."""
    spec, cfg = _spec(name), cfg or RenderConfig()
    n = num_frames(name, index, seed, cfg)
    frames = list(range(n)) if frames is None else [int(t) for t in frames]
    if any(t < 0 or t >= n for t in frames):
        raise ValueError(f"frames must lie in [0, {n}) for {name} video {index}, got {frames}")
    if spec.background != "black" or cfg.background != "black":
        raise NotImplementedError("only the black background (§9.2 default) is implemented")
    cfg = replace(cfg, speed_multiplier=cfg.speed_multiplier * spec.speed_multiplier)
    sh = dynamics.sample_shapes(dynamics.rng_for(seed, name, index, 0), spec, cfg)
    tex_ids = None
    if spec.texture is not None:
        textures = textures or texture_source(name, seed, size, device, imagenet)
        tex_ids = dynamics.rng_for(seed, name, index, 2).integers(0, textures.pool_size, len(sh["kind"]))
    if not spec.moving:                    # static: one frame copied (identical frames, Q24)
        one = shapes.render_frame(sh, dynamics.state_at(sh, 0, None), size, device, textures, tex_ids)
        return one[None].repeat(len(frames), 1, 1, 1)
    out = [shapes.render_frame(sh, dynamics.state_at(sh, t, None), size, device, textures, tex_ids)
           for t in frames]
    return torch.stack(out) if out else torch.zeros(0, size, size, 3, dtype=torch.uint8)


from synvid.render.stream import SyntheticClips  # noqa: E402  (re-export, INTERFACES.md)
