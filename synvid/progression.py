"""The synthetic video progression of Section 3.1 (Table 8, Appendix 9.2, PROTOCOLS §6-7) and the ablation
datasets of Tables 2, 3, 9, 10 and 12 (Sections 5.1, 5.2, Appendix 9.4).

Every video is a pure function of (name, index, seed); each frame is computed in closed form.
"""
from dataclasses import dataclass, replace
from typing import Optional, Sequence

import numpy as np
import torch

from synvid.config import RenderConfig, TextureConfig
from synvid.errors import BadInput, MissingInput, UnknownName
from synvid.render import dynamics, shapes

ALL = dynamics.KINDS
BACKGROUNDS = ("black", "color", "image")
IMAGENET_ALL = 1_300_000       # > 1,281,167 ImageNet train images: the pool is the whole set (Table 2 "1.3M")


@dataclass(frozen=True)
class Spec:
    kinds: tuple = ALL
    moving: bool = True
    affine: bool = False
    accelerating: bool = False
    texture: Optional[str] = None          # synvid.textures.source kind, None = uniform colour
    speed_multiplier: float = 1.0          # §9.4 / Table 9 slower ablation: 0.5
    background: str = "black"              # §9.4 / Table 10: black | color (one per video) | image (one per video)
    fixed: bool = False                    # a fixed set of RenderConfig.num_videos videos (9,537) vs on the fly
    texture_pool: Optional[int] = None     # distinct textures; None = TextureConfig.pool_size (300k, Table 2)
    mix_with: Optional[str] = None         # texture "mix": half images, half this generated kind (Tables 2, 10)
    saturated: bool = False                # §9.4 / Table 12: a random colour added to each shape's texture
    dynamic: bool = False                  # §5.2: texture is a latent walk; frame t shows its frame t (get_at)
    full_frame: bool = False               # §5.2 "Dynamic StyleGAN videos": no shapes, the frame is the texture
    static_fraction: float = 0.0           # §5.1 / T2, T10: the last 5% of indices are one texture, repeated

    @property
    def fills_shapes(self) -> bool:
        """Shapes show textures (else solid colours; the source then only feeds backgrounds / static videos)."""
        return self.texture is not None and not self.full_frame and self.static_fraction == 0


_ACC = Spec(affine=True, accelerating=True)
DATASETS = {
    "static_circles": Spec(kinds=("circle",), moving=False),          # T1 M1; Q24: v = 0, no transform
    "moving_circles": Spec(kinds=("circle",)),                        # T1 M2
    "moving_shapes": Spec(),                                          # T1 M3
    "moving_transforming_shapes": Spec(affine=True),                  # T1 M4
    "accelerating_transforming_shapes": _ACC,                         # T1 M5
    "accelerating_transforming_textures": replace(_ACC, texture="statistical", fixed=True),   # T1 M6, T2
    "accelerating_transforming_stylegan": replace(_ACC, texture="stylegan", fixed=True),      # T1 M7, T2, T3
    # T1 M8 = T2 "1.3M images" (both 91.3; §5.1 "initial pool ... all the images from ImageNet (1.3M)")
    "accelerating_transforming_image_crops": replace(_ACC, texture="imagenet", fixed=True,
                                                     texture_pool=IMAGENET_ALL),
}
NAMES = tuple(DATASETS)
_M6, _M7, _M8 = (DATASETS[n] for n in NAMES[5:8])
for _n in NAMES[1:6]:                       # §9.4 / Table 9: the slower-motion ablation (M2-M6)
    DATASETS[_n + "_slow"] = replace(DATASETS[_n], speed_multiplier=0.5)
_IMG300 = replace(_M8, texture_pool=300_000)
_MIX_STAT = replace(_M8, texture="mix", mix_with="statistical", texture_pool=300_000)
_DYN = replace(_M7, dynamic=True)
_EXTRA = {
    "images_300k": _IMG300,                                                          # T2 "300k images"
    "images_150k_stylegan_150k": replace(_MIX_STAT, mix_with="stylegan"),            # T2 "150k images & 150k SG"
    "static_images_5pct": replace(_ACC, texture="imagenet", texture_pool=IMAGENET_ALL,
                                  static_fraction=0.05),                             # T2 "Replacing 5% ... static"
    "dynamic_stylegan_crops": _DYN,                                                  # T3 "Dynamic StyleGAN crops"
    "dynamic_stylegan_videos": Spec(moving=False, texture="stylegan", dynamic=True, full_frame=True,
                                    fixed=True),                                # T3 "Dynamic StyleGAN videos"
    "dynamic_stylegan_highfreq": Spec(moving=False, texture="stylegan_highfreq", dynamic=True, full_frame=True,
                                      fixed=True),                              # T10 "Dynamic StyleGAN high-freq"
    "stylegan_static_5pct": replace(_ACC, texture="stylegan", static_fraction=0.05),  # T10 "Replacing 5% w/ StyleGAN"
    "images_150k_statistical_150k": _MIX_STAT,                                       # T10 "150k images & 150k stat."
    "images_300k_color_bg": replace(_IMG300, background="color"),                    # T10 "300k images w/ colored bg"
    "images_300k_image_bg": replace(_IMG300, background="image"),                    # T10 "300k images w/ image bg"
}
_SATURATED = {                               # Table 12: saturated textures
    "statistical_saturated": _M6,                                                    # T12 "Statistical textures"
    "statistical_color_bg_saturated": replace(_M6, background="color"),              # T12 "Stat. w/ colored bg"
    "dynamic_stylegan_crops_saturated": _DYN,                                        # T12 "Moving Dyn. StyleGAN crops"
    "images_300k_saturated": _IMG300,                                                # T12 "300k image crops"
    "images_150k_statistical_150k_saturated": _MIX_STAT,                             # T12 "150k & 150 stat." (Q21)
    "images_300k_color_bg_saturated": _EXTRA["images_300k_color_bg"],                # T12 "300k w/ colored bg"
    "images_300k_image_bg_saturated": _EXTRA["images_300k_image_bg"],                # T12 "300k w/ image bg"
    "images_1300k_saturated": _M8,                                                   # T12 "1.3M image crops"
}
DATASETS.update(_EXTRA)
DATASETS.update({k: replace(v, saturated=True) for k, v in _SATURATED.items()})
ABLATIONS = tuple(n for n in DATASETS if n not in NAMES)
_SOURCES: dict = {}                          # built texture sources, one per (name, seed, device, imagenet)


def _spec(name: str) -> Spec:
    if name not in DATASETS:
        raise UnknownName(f"unknown synthetic dataset {name!r}; registered: {', '.join(DATASETS)}")
    return DATASETS[name]


def num_frames(name: str, index: int, seed: int = 0, cfg: RenderConfig = RenderConfig()) -> int:
    """Video length (§9.2 "U(100, 200)"), the one place this rule lives. On-the-fly sets: min_frames..max_frames
    inclusive (dataset_mixed.py:126, Python random.randint(100, 200)); fixed sets, made by the offline generator:
    min_frames..max_frames - 1 (gen_syn_video.py:386, NumPy np.random.randint(100, 200), upper bound excluded)."""
    spec = _spec(name)
    if index < 0:
        raise BadInput(f"video index must be >= 0, got {index}")
    high = cfg.max_frames if spec.fixed else cfg.max_frames + 1
    if high <= cfg.min_frames:
        raise BadInput(f"{name}: no video length in [{cfg.min_frames}, {high}) (min_frames {cfg.min_frames}, "
                       f"max_frames {cfg.max_frames}; a fixed set excludes max_frames)")
    return int(dynamics.rng_for(seed, name, index, 1).integers(cfg.min_frames, high))


def is_static(name: str, index: int, cfg: RenderConfig = RenderConfig()) -> bool:
    """True for the static-texture videos of a `static_fraction` set: like the authors' AlignedDataset, the last
    int(n (1 - f)) .. n - 1 of every block of n = cfg.num_videos indices (n = 9,537: 477 of them, 5%)."""
    spec = _spec(name)
    n = cfg.num_videos
    return spec.static_fraction > 0 and index % n >= int(n * (1 - spec.static_fraction))


def texture_source(name: str, seed: int = 0, size: int = 256, device="cpu", imagenet: str = "",
                   tex_cfg: Optional[TextureConfig] = None, bank: str = ""):
    """The texture source of a textured set, built lazily by synvid.textures (issue 4) and kept per process.
    `tex_cfg` (a profile's TextureConfig) sets the texture size and scales every pool by pool_size / 300k;
    `bank`: a texture bank (data_gen/3_1_texture_banks.py) read instead of generating (same pixels)."""
    spec = _spec(name)
    kind = spec.texture
    if kind is None:
        raise BadInput(f"{name} has no texture source (background='image' needs one: pass textures=...)")
    if kind in ("imagenet", "mix") and not imagenet:
        raise MissingInput(f"{name} needs an ImageNet directory (--imagenet DIR / TextureConfig.imagenet)")
    tex_cfg = tex_cfg or TextureConfig()
    key = (name, seed, str(device), imagenet, tex_cfg.size, tex_cfg.pool_size, bank)
    if key in _SOURCES:
        return _SOURCES[key]
    try:
        from synvid import textures as tex_mod
        scale = tex_cfg.pool_size / TextureConfig.pool_size
        pool = max(1, round((spec.texture_pool or TextureConfig.pool_size) * scale))
        kw = dict(seed=seed, size=tex_cfg.size, device=device, pool_size=pool)
        if spec.dynamic:
            if bank:
                raise BadInput(f"{name} walks StyleGAN latents frame by frame; a texture bank holds static "
                               "textures (generate on the fly: drop --bank)")
            src = tex_mod.DynamicStyleGAN(highfreq=kind == "stylegan_highfreq", **kw)
            if spec.saturated:
                src = _SaturatedWalk(src, seed)
        else:
            mix = dict(mix_with=spec.mix_with) if spec.mix_with else {}
            src = tex_mod.source(kind, imagenet=imagenet or None, saturated=spec.saturated, bank=bank or None,
                                 **mix, **kw)
    except (ImportError, AttributeError) as e:
        raise RuntimeError(f"{name} needs texture source {kind!r} but synvid.textures cannot build it "
                           f"({e}); pass textures=... explicitly") from e
    _SOURCES[key] = src
    return src


def _fit(tex: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [K, S, S, 3] -> [K, size, size, 3]: a whole texture / image shown as the canvas (bilinear)."""
    if tex.shape[1] == size and tex.shape[2] == size:
        return tex
    x = torch.nn.functional.interpolate(tex.permute(0, 3, 1, 2).float(), size=(size, size), mode="bilinear",
                                        align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _frame_of(textures, ids, t, dynamic: bool, device):
    """Texture ids at frame t: a dynamic source's latent-walk frame t (get_at), else the static texture."""
    if not dynamic:
        return textures.get(ids, device)
    if not hasattr(textures, "get_at"):
        raise TypeError(f"a dynamic texture set needs a source with get_at(ids, t, device); got {type(textures)}")
    return textures.get_at(ids, t, device)


class _PerVideo:
    """A source that fetches each texture once per video: the rasteriser asks for the visible ones every frame,
    and generating (or reading) a texture costs far more than drawing it. The textures sit in one table that the
    numba rasteriser reads by row (`rows`), so no frame copies them (512^2 image crops: 0.8 MB each)."""

    def __init__(self, src):
        self.src, self.pool_size, self.size = src, src.pool_size, src.size
        self._row: dict = {}
        self._table = np.empty((0, src.size, src.size, 3), np.uint8)

    def rows(self, ids):
        """(table uint8 [M, S, S, 3] of the textures fetched so far, numpy row of each id)."""
        ids = [int(i) for i in np.asarray(ids).reshape(-1)]
        new = sorted(set(ids) - self._row.keys())
        if new:
            n = len(self._row)
            if n + len(new) > len(self._table):           # grow by doubling: a few copies per video
                grown = np.empty((max(2 * len(self._table), n + len(new)),) + self._table.shape[1:], np.uint8)
                grown[:n] = self._table[:n]
                self._table = grown
            self._table[n:n + len(new)] = self.src.get(torch.tensor(new), "cpu").cpu().numpy()
            self._row.update((k, n + j) for j, k in enumerate(new))
        return self._table[:len(self._row)], np.array([self._row[i] for i in ids], dtype=np.int64)

    def get(self, ids, device):
        table, rows = self.rows(torch.as_tensor(ids).cpu().numpy())
        return torch.from_numpy(table[rows]).to(device)


class _AtFrame:
    """A TextureSource view of a dynamic source frozen at frame t (what the rasterisers read)."""

    def __init__(self, src, t):
        self.src, self.t, self.pool_size, self.size = src, t, src.pool_size, src.size

    def get(self, ids, device):
        return _frame_of(self.src, ids, self.t, True, device)


class _SaturatedWalk:
    """Table 12 "Moving Dynamic StyleGAN crops": synvid.textures' Saturated colour law (per id) applied to every
    frame of a dynamic source (Saturated itself has no get_at)."""

    def __init__(self, base, seed):
        from synvid.textures.image_crops import Saturated
        self.base, self.seed, self.pool_size, self.size = base, seed, base.pool_size, base.size
        self._sat = lambda src: Saturated(src, seed=seed)

    def get(self, ids, device="cpu"):
        return self._sat(self.base).get(ids, device)

    def get_at(self, ids, t, device="cpu"):
        return self._sat(_AtFrame(self.base, t)).get(ids, device)


def background_colour(name: str, index: int, seed: int = 0) -> tuple:
    """The uniform RGB background of a 'color' video: one colour per video (§9.4), from its own stream."""
    return tuple(int(c) for c in dynamics.rng_for(seed, name, index, 5).integers(0, 256, 3))


def _background(mode, name, index, seed, size, textures, saturated) -> Optional[torch.Tensor]:
    """None (black, the §9.2 default), one random colour, or one random image of the set's own source resized to
    the canvas (§9.4 "a random image from the image crops set"; saturation is per moving object, so not here)."""
    if mode == "black":
        return None
    if mode == "color":
        return torch.tensor(background_colour(name, index, seed), dtype=torch.uint8).expand(size, size, 3)
    src = textures.base if saturated and hasattr(textures, "base") else textures
    k = int(dynamics.rng_for(seed, name, index, 5).integers(0, src.pool_size))
    return _fit(src.get(torch.tensor([k]), "cpu"), size)[0]


def render(name: str, index: int, *, seed: int = 0, frames: Optional[Sequence[int]] = None,
           size: int = 256, device="cpu", textures=None, cfg: Optional[RenderConfig] = None,
           imagenet: str = "", background: Optional[str] = None, tex_cfg: Optional[TextureConfig] = None,
           bank: str = "", texture_device=None) -> torch.Tensor:
    """Video `index` of dataset `name` -> uint8 [T, size, size, 3] (frames=None: the whole video).
    `background` overrides the set's (black | color | image); else the spec's, else cfg.background.
    `tex_cfg`, `bank`, `imagenet`: how the set's texture source is built (texture_source) unless `textures`;
    `texture_device`: where it generates textures (default `device`), e.g. CUDA while the numba CPU path draws."""
    spec, cfg = _spec(name), cfg or RenderConfig()
    n = num_frames(name, index, seed, cfg)
    frames = list(range(n)) if frames is None else [int(t) for t in frames]
    if any(t < 0 or t >= n for t in frames):
        raise BadInput(f"frames must lie in [0, {n}) for {name} video {index}, got {frames}")
    bg = background or (spec.background if spec.background != "black" else cfg.background)
    if bg not in BACKGROUNDS:
        raise BadInput(f"background must be one of {BACKGROUNDS}, got {bg!r}")
    if (spec.texture is not None or bg == "image") and textures is None:
        textures = texture_source(name, seed, size, texture_device or device, imagenet, tex_cfg, bank)
    empty = torch.zeros(0, size, size, 3, dtype=torch.uint8)
    if spec.full_frame or is_static(name, index, cfg):    # one whole texture per video, resized to the canvas
        k = torch.tensor([int(dynamics.rng_for(seed, name, index, 4).integers(0, textures.pool_size))])
        if not spec.dynamic:                              # static video: one image repeated (§5.1, §9.4)
            return _fit(textures.get(k, "cpu"), size).repeat(len(frames), 1, 1, 1).to(device)
        out = [_fit(_frame_of(textures, k, t, True, "cpu"), size)[0] for t in frames]
        return torch.stack(out).to(device) if out else empty.to(device)
    back = _background(bg, name, index, seed, size, textures, spec.saturated)
    cfg = replace(cfg, speed_multiplier=cfg.speed_multiplier * spec.speed_multiplier)
    sh = dynamics.sample_shapes(dynamics.rng_for(seed, name, index, 0), spec, cfg)
    fill, tex_ids = None, None
    if spec.fills_shapes:
        fill = textures if spec.dynamic else _PerVideo(textures)
        tex_ids = dynamics.rng_for(seed, name, index, 2).integers(0, textures.pool_size, len(sh["kind"]))

    def frame(t):
        src = _AtFrame(fill, t) if spec.dynamic and fill is not None else fill
        return shapes.render_frame(sh, dynamics.state_at(sh, t, None), size, device, src, tex_ids, back)
    if not spec.moving and not spec.dynamic:              # static: one frame copied (identical frames, Q24)
        return frame(0)[None].repeat(len(frames), 1, 1, 1)
    out = [frame(t) for t in frames]
    return torch.stack(out) if out else empty.to(device)


from synvid.render.stream import SyntheticClips  # noqa: E402  (re-exported: the public on-the-fly dataset)
