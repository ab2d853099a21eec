"""How the renderer gets its shapes' pixels: z-order occlusion, one texture fetch per video, a texture
bank giving the same pixels as generating, the profile's texture settings, fixed sets in the on-the-fly dataset."""
import numpy as np
import pytest
import torch

from synvid import progression as P
from synvid.config import RenderConfig, TextureConfig
from synvid.render import dynamics, shapes, stream
from synvid.render.stream import SyntheticClips
from synvid.render.video import render
from synvid.textures.datasets import texture_source

SMALL = RenderConfig(num_shapes=30, min_frames=20, max_frames=24, num_videos=4)


def _two_circles(first, second):
    """Two concentric circles on the canvas centre: shape 0 big, shape 1 small (placed later, on top)."""
    sh = dynamics.sample_shapes(P.rng_for(0, "t", 0), P.DATASETS["moving_circles"],
                                RenderConfig(num_shapes=2))
    sh.update(kind=np.zeros(2, dtype=np.int64), radius=np.array([60.0, 20.0]), centre=np.full((2, 2), 128.0),
              colour=np.array([first, second]), speed=np.zeros(2), accel=np.zeros(2), omega=np.zeros(2),
              scale=np.zeros((2, 2)), shear=np.zeros((2, 2)), pivot=np.zeros((2, 2)))
    return sh


@pytest.mark.parametrize("path", ["numba", "torch"])
def test_later_shapes_cover_earlier_ones(path):
    sh = _two_circles([255, 0, 0], [0, 255, 0])
    st = dynamics.state_at(sh, 0)
    draw = shapes.render_frame if path == "numba" else shapes.render_frame_torch
    frame = draw(sh, st, 64, "cpu")
    assert frame[32, 32].tolist() == [0, 255, 0]        # centre: the later (small) circle is on top
    assert frame[32, 20].tolist() == [255, 0, 0]        # ring: only the big one
    assert frame[0, 0].tolist() == [0, 0, 0]            # background


class CountingSource:
    def __init__(self, pool_size=64, size=8):
        self.pool_size, self.size, self.requested = pool_size, size, []

    def get(self, ids, device="cpu"):
        ids = torch.as_tensor(ids, dtype=torch.int64)
        self.requested += ids.tolist()
        return ((ids[:, None, None, None] * 37 + 11) % 250 + 5).to(torch.uint8).expand(-1, self.size, self.size, 3)


def test_each_texture_fetched_once_per_video():
    src = CountingSource()
    video = render("accelerating_transforming_textures", 0, size=32, cfg=SMALL, textures=src)
    assert len(video) >= 20 and len(src.requested) == len(set(src.requested)) > 0


def test_bank_gives_the_generated_pixels(tmp_path):
    from synvid.textures.banks import write_bank
    tex = TextureConfig(size=32, pool_size=6)
    write_bank(tmp_path / "bank", "statistical", 6, seed=0, size=32, shard=3)
    kw = dict(frames=[0, 7], size=32, cfg=SMALL, tex_cfg=tex)
    generated = render("accelerating_transforming_textures", 1, **kw)
    banked = render("accelerating_transforming_textures", 1, bank=str(tmp_path / "bank"), **kw)
    assert torch.equal(generated, banked)
    with pytest.raises(ValueError, match="bank"):
        render("accelerating_transforming_stylegan", 1, bank=str(tmp_path / "bank"), **kw)


def test_profile_texture_config_sets_size_and_scales_pools():
    small = TextureConfig(size=32, pool_size=30)                  # 30 = 300k / 10,000
    src = texture_source("accelerating_transforming_textures", tex_cfg=small)
    assert (src.size, src.pool_size) == (32, 30)
    assert texture_source("accelerating_transforming_textures").pool_size == 300_000
    dyn = texture_source("dynamic_stylegan_videos", tex_cfg=small)
    assert (dyn.size, dyn.pool_size) == (32, 30)


def test_fixed_sets_reuse_their_videos_each_epoch(monkeypatch):
    rendered = []
    monkeypatch.setattr(stream, "render", lambda name, index, **kw: rendered.append(index) or torch.zeros(1))
    fixed = SyntheticClips("accelerating_transforming_textures", epoch_size=3, cfg=SMALL)   # num_videos 4
    on_the_fly = SyntheticClips("moving_circles", epoch_size=3, cfg=SMALL)
    for ds in (fixed, on_the_fly):
        for epoch in range(3):
            ds.set_epoch(epoch)
            [ds[i] for i in range(3)]
    assert rendered[:9] == [0, 1, 2, 3, 0, 1, 2, 3, 0]          # draws 0..8 cycle over the 4 fixed videos
    assert rendered[9:] == list(range(9))                       # a new video for every draw
