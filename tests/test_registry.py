"""Ablation registry and backgrounds (Tables 2, 3, 9, 10, 12; Appendix 9.4): every reported synthetic
name renders, backgrounds, static-5% videos, dynamic texture crops."""
import csv
from pathlib import Path

import pytest
import torch

from synvid import progression as P
from synvid.config import RenderConfig
from synvid.render.stream import SyntheticClips
from synvid.render.video import render
from synvid.textures.datasets import SaturatedWalk, texture_source

CFG = RenderConfig(num_shapes=40)
STILL = RenderConfig(num_shapes=40, min_speed=0.0, max_speed=0.0, max_accel=0.0, max_rotation_speed=0.0,
                     max_scale_speed=0.0, max_shear_speed=0.0)          # shapes that never move or transform
REPORTED = Path(__file__).resolve().parents[1] / "paper_tables" / "reported.csv"
ABLATION_TABLES = {"table2", "table3", "table9", "table10", "table12"}


class FakeTextures:
    """Random textures with no black texel (so a black pixel in a render is background), one per id."""

    def __init__(self, pool_size=50, size=8):
        self.pool_size, self.size = pool_size, size
        g = torch.Generator().manual_seed(0)
        self.bank = torch.randint(1, 256, (pool_size, size, size, 3), generator=g, dtype=torch.uint8)

    def get(self, ids, device="cpu"):
        return self.bank[torch.as_tensor(ids, dtype=torch.int64)].to(device)


class FakeDynamic(FakeTextures):
    """A latent walk stand-in: frame t of texture k is texture k shifted by t grey levels (closed form)."""

    def get_at(self, ids, t, device="cpu"):
        tex = self.get(ids).to(torch.int64)
        return ((tex + 7 * int(t)) % 255 + 1).to(torch.uint8).to(device)


def _source(name):
    return FakeDynamic() if P.DATASETS[name].dynamic else FakeTextures()


def _reported_names():
    with open(REPORTED) as f:
        rows = [r for r in csv.DictReader(f) if r["table"] in ABLATION_TABLES]
    return sorted({r["dataset"] for r in rows})


def test_every_reported_synthetic_name_is_registered():
    names = _reported_names()
    assert len(names) >= 25
    assert [n for n in names if n not in P.DATASETS] == []
    assert len(P.NAMES) == 8 and set(P.ABLATIONS).isdisjoint(P.NAMES)
    assert set(P.ABLATIONS) | set(P.NAMES) == set(P.DATASETS)


@pytest.mark.parametrize("name", _reported_names())
def test_every_reported_name_renders_two_frames(name):
    index = 9536 if P.DATASETS[name].static_fraction else 1        # 9536: a static-texture video
    v = render(name, index, frames=[0, 3], size=32, cfg=CFG, textures=_source(name))
    assert v.shape == (2, 32, 32, 3) and v.dtype == torch.uint8 and v.any()


def test_registry_specs_follow_the_paper():
    d = P.DATASETS
    assert d["accelerating_transforming_image_crops"].texture_pool >= 1_281_167     # T2 "1.3M images" = M8
    assert d["images_300k"].texture_pool == 300_000 and d["images_300k"].texture == "imagenet"
    assert d["images_150k_stylegan_150k"].mix_with == "stylegan"
    assert d["images_150k_statistical_150k"].mix_with == "statistical"
    assert d["accelerating_transforming_textures_slow"].speed_multiplier == 0.5    # Table 9
    assert all(d[n].saturated for n in d if n.endswith("_saturated"))
    assert d["images_300k_color_bg"].background == "color" and d["images_300k_image_bg"].background == "image"
    assert d["dynamic_stylegan_videos"].full_frame and not d["dynamic_stylegan_crops"].full_frame
    for n in ("static_images_5pct", "stylegan_static_5pct"):                       # §5.1, §9.4: 5% of M5
        assert d[n].static_fraction == 0.05 and d[n].affine and d[n].accelerating and not d[n].fills_shapes


def test_colour_background_uniform_where_no_shape():
    black = render("moving_shapes", 2, frames=[0, 9], size=32, cfg=CFG, background="black")
    col = render("moving_shapes", 2, frames=[0, 9], size=32, cfg=CFG, background="color")
    rgb = torch.tensor(P.background_colour("moving_shapes", 2), dtype=torch.uint8)
    empty = (black == 0).all(-1)
    assert empty.any() and (~empty).any()
    assert (col[empty] == rgb).all() and torch.equal(col[~empty], black[~empty])
    assert P.background_colour("moving_shapes", 3) != P.background_colour("moving_shapes", 2)


def test_image_background_comes_from_the_texture_source():
    tex = FakeTextures(pool_size=1, size=32)                  # pool of one: the background must be image 0
    name = "images_300k_image_bg"
    black = render(name, 0, frames=[0], size=32, cfg=CFG, textures=tex, background="black")
    img = render(name, 0, frames=[0], size=32, cfg=CFG, textures=tex)
    empty = (black[0] == 0).all(-1)
    assert empty.any()
    assert torch.equal(img[0][empty], tex.bank[0][empty]) and torch.equal(img[0][~empty], black[0][~empty])


def test_background_errors():
    with pytest.raises(ValueError, match="background must be one of"):
        render("moving_shapes", 0, frames=[0], size=32, cfg=CFG, background="blue")
    with pytest.raises(ValueError, match="no texture source"):
        render("moving_shapes", 0, frames=[0], size=32, cfg=CFG, background="image")
    with pytest.raises(FileNotFoundError, match="ImageNet"):
        render("images_300k_color_bg", 0, frames=[0], size=32, cfg=CFG)
    with pytest.raises(TypeError, match="get_at"):
        render("dynamic_stylegan_crops", 0, frames=[0], size=32, cfg=CFG, textures=FakeTextures())


def test_static_five_percent_indices_are_static_images():
    flags = [P.is_static("static_images_5pct", i) for i in range(9537)]
    assert sum(flags) == 477 and not any(flags[:9060]) and all(flags[9060:])    # AlignedDataset: last 5%
    assert P.is_static("stylegan_static_5pct", 9537 + 9536) and not P.is_static("moving_shapes", 9536)
    tex = FakeTextures(pool_size=1, size=32)
    v = render("static_images_5pct", 9536, frames=[0, 7, 40], size=32, cfg=CFG, textures=tex)
    assert all(torch.equal(f, tex.bank[0]) for f in v)
    moving = render("static_images_5pct", 0, frames=[0, 40], size=32, cfg=CFG, textures=tex)
    assert not torch.equal(moving[0], moving[1]) and not torch.equal(moving[0], tex.bank[0])


def test_dynamic_crops_change_inside_a_still_shape():
    dyn = render("dynamic_stylegan_crops", 0, frames=[0, 5], size=32, cfg=STILL, textures=FakeDynamic())
    still = render("accelerating_transforming_stylegan", 0, frames=[0, 5], size=32, cfg=STILL,
                     textures=FakeDynamic())
    assert torch.equal(still[0], still[1])                    # same geometry, static texture: identical
    covered = (dyn[0] != 0).any(-1) & (dyn[1] != 0).any(-1)
    assert covered.any() and not torch.equal(dyn[0][covered], dyn[1][covered])


def test_dynamic_videos_are_the_full_frame_walk():
    tex = FakeDynamic(pool_size=1, size=32)
    v = render("dynamic_stylegan_videos", 0, frames=[0, 4], size=32, textures=tex)
    assert torch.equal(v[0], tex.get_at([0], 0)[0]) and torch.equal(v[1], tex.get_at([0], 4)[0])


@pytest.mark.parametrize("name,index", [("dynamic_stylegan_crops", 1), ("images_300k_image_bg_saturated", 1),
                                        ("stylegan_static_5pct", 9536)])
def test_frames_subset_equals_whole_video_for_textured_ablations(name, index):
    whole = render(name, index, size=16, cfg=CFG, textures=_source(name))
    sub = render(name, index, frames=[len(whole) - 1, 2], size=16, cfg=CFG, textures=_source(name))
    assert torch.equal(sub, whole[[-1, 2]])


def test_synthetic_clips_serve_an_ablation():
    ds = SyntheticClips("dynamic_stylegan_crops_saturated", epoch_size=2, num_frames=2, size=16,
                          textures=FakeDynamic())
    assert ds[1].shape == (2, 16, 16, 3) and torch.equal(ds[1], ds[1])


def test_saturated_dynamic_source_adds_one_colour_per_id_to_every_frame():
    from synvid.textures.image_crops import Saturated
    zero = FakeTextures()
    zero.bank.zero_()
    colour = Saturated(zero, seed=0).get([4, 9]).to(torch.int16)          # the per-id colour alone
    src, plain = SaturatedWalk(FakeDynamic(), seed=0), FakeDynamic()
    for t in (0, 3):
        want = (plain.get_at([4, 9], t).to(torch.int16) + colour).clamp(0, 255).to(torch.uint8)
        assert torch.equal(src.get_at([4, 9], t), want)
    assert not torch.equal(src.get_at([4], 0), src.get_at([4], 3))


def _image_folder(root, n=2):
    import numpy as np
    from PIL import Image
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(n):
            rgb = np.random.default_rng([ord(c), i]).integers(1, 256, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(rgb).save(root / c / f"{i}.png")
    return str(root)


def test_texture_sources_built_from_an_image_folder(tmp_path):
    from synvid.textures.image_crops import ImageCrops, Mix, Saturated
    root = _image_folder(tmp_path / "imagenet")
    mix = texture_source("images_150k_stylegan_150k", imagenet=root)
    assert isinstance(mix, Mix) and mix.parts[1].kind == "stylegan" and mix.parts[1].pool_size == 150_000
    assert texture_source("images_150k_statistical_150k", imagenet=root).parts[1].kind == "statistical"
    assert isinstance(texture_source("images_300k", imagenet=root), ImageCrops)
    assert isinstance(texture_source("images_1300k_saturated", imagenet=root), Saturated)
    v = render("images_300k_image_bg", 0, frames=[0, 2], size=32, cfg=CFG, imagenet=root)
    assert v.shape == (2, 32, 32, 3) and (v != 0).any(-1).all()         # image background: no black pixel
