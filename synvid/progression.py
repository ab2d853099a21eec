"""The registry of synthetic datasets: the progression of Section 3.1 (Table 8, Appendix 9.2, PROTOCOLS §6-7) and
the ablations of Tables 2, 3, 9, 10 and 12 (Sections 5.1, 5.2, Appendix 9.4), with the per-video rules every
renderer shares (length, static videos, background). A leaf: it imports nothing of synvid but the config.

Every video is a pure function of (name, index, seed): each random choice comes from its own `rng_for` stream
(0 shapes, 1 length, 2 texture ids, 3 clip start, 4 whole-frame texture, 5 background) and each frame is computed
in closed form (synvid.render.video renders it; synvid.textures.datasets builds a set's texture source).
"""
import zlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Optional

from synvid.config import RenderConfig
from synvid.errors import BadInput, UnknownName

if TYPE_CHECKING:
    import numpy as np

KINDS = ("circle", "square", "oriented_square", "rectangle", "triangle", "quadrilateral")  # PROTOCOLS §6 / Q4
BACKGROUNDS = ("black", "color", "image")
IMAGENET_ALL = 1_300_000       # > 1,281,167 ImageNet train images: the pool is the whole set (Table 2 "1.3M")


@dataclass(frozen=True)
class Spec:
    kinds: tuple = KINDS
    moving: bool = True
    affine: bool = False
    accelerating: bool = False
    texture: Optional[str] = None          # synvid.textures.source kind, None = uniform colour
    speed_multiplier: float = 1.0          # §9.4 / Table 9 slower ablation: 0.5
    background: str = "black"              # §9.4 / Table 10: black | color (one per video) | image (one per video)
    fixed: bool = False                    # a fixed set of RenderConfig.num_videos videos vs on the fly
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
_M6 = DATASETS["accelerating_transforming_textures"]
_M7 = DATASETS["accelerating_transforming_stylegan"]
_M8 = DATASETS["accelerating_transforming_image_crops"]
_SLOWER = ("moving_circles", "moving_shapes", "moving_transforming_shapes", "accelerating_transforming_shapes",
           "accelerating_transforming_textures")    # §9.4 / Table 9: the slower-motion ablation of M2-M6
DATASETS.update({n + "_slow": replace(DATASETS[n], speed_multiplier=0.5) for n in _SLOWER})
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


def rng_for(seed: int, name: str, index: int, stream: int = 0) -> "np.random.Generator":
    """Generator keyed by (seed, name, index, stream): independent of process, order and device."""
    import numpy as np     # here: run_all.sh reads the registry (synvid.plan) with a python3 that may lack numpy
    return np.random.default_rng([int(seed), zlib.crc32(name.encode()), int(index), int(stream)])


def spec(name: str) -> Spec:
    """The Spec of a registered name; a clear error naming every registered one otherwise."""
    if name not in DATASETS:
        raise UnknownName(f"unknown synthetic dataset {name!r}; registered: {', '.join(DATASETS)}")
    return DATASETS[name]


def num_frames(name: str, index: int, seed: int = 0, cfg: RenderConfig = RenderConfig()) -> int:
    """Video length (§9.2 "U(100, 200)"), the one place this rule lives. On-the-fly sets: min_frames..max_frames
    inclusive (dataset_mixed.py:126, Python random.randint(100, 200)); fixed sets, made by the offline generator:
    min_frames..max_frames - 1 (gen_syn_video.py:386, NumPy np.random.randint(100, 200), upper bound excluded)."""
    fixed = spec(name).fixed
    if index < 0:
        raise BadInput(f"video index must be >= 0, got {index}")
    high = cfg.max_frames if fixed else cfg.max_frames + 1
    if high <= cfg.min_frames:
        raise BadInput(f"{name}: no video length in [{cfg.min_frames}, {high}) (min_frames {cfg.min_frames}, "
                       f"max_frames {cfg.max_frames}; a fixed set excludes max_frames)")
    return int(rng_for(seed, name, index, 1).integers(cfg.min_frames, high))


def is_static(name: str, index: int, cfg: RenderConfig = RenderConfig()) -> bool:
    """True for the static-texture videos of a `static_fraction` set: like the authors' AlignedDataset, the last
    int(n (1 - f)) .. n - 1 of every block of n = cfg.num_videos indices (paper: 477 of them, 5%)."""
    fraction, n = spec(name).static_fraction, cfg.num_videos
    return fraction > 0 and index % n >= int(n * (1 - fraction))


def resolve_background(name: str, cfg: RenderConfig, background: Optional[str] = None) -> str:
    """A video's background mode: `background` (an override), else the spec's, else cfg.background."""
    own = spec(name).background
    bg = background or (own if own != "black" else cfg.background)
    if bg not in BACKGROUNDS:
        raise BadInput(f"background must be one of {BACKGROUNDS}, got {bg!r}")
    return bg


def background_colour(name: str, index: int, seed: int = 0) -> tuple:
    """The uniform RGB background of a 'color' video: one colour per video (§9.4), from its own stream."""
    return tuple(int(c) for c in rng_for(seed, name, index, 5).integers(0, 256, 3))
