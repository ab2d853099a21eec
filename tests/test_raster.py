"""Fast rasterisers (issue 3, performance): numba CPU path and batched torch path against the torch tile path."""
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from synvid import progression as P
from synvid.config import RenderConfig
from synvid.render import batch, dynamics, shapes
from synvid.render.raster_cpu import render_frame_cpu
from synvid.render.video import render

CFG = RenderConfig(num_shapes=60)
SHAPE_SETS = P.NAMES[:5]


class NoiseTextures:
    """Random 8x8 textures per id: exercises the texel lookup (SolidColor textures are uniform)."""
    pool_size, size = 1000, 8

    def get(self, ids, device):
        g = torch.Generator().manual_seed(0)
        bank = torch.randint(0, 256, (self.pool_size, 8, 8, 3), generator=g, dtype=torch.uint8)
        return bank[ids].to(device)


def _shapes(name, index=0, seed=0):
    spec = P.DATASETS[name]
    cfg = replace(CFG, speed_multiplier=CFG.speed_multiplier * spec.speed_multiplier)
    return dynamics.sample_shapes(P.rng_for(seed, name, index, 0), spec, cfg)


def _agree(a, b):
    return (a == b).all(-1).float().mean().item()


@pytest.mark.parametrize("name", SHAPE_SETS)
def test_cpu_path_matches_torch_path(name):
    sh = _shapes(name)
    for t in (0, 37, 99):
        st = dynamics.state_at(sh, t)
        ref = shapes.render_frame_torch(sh, st, 64, "cpu")
        out = shapes.render_frame(sh, st, 64, "cpu")           # CPU dispatches to the numba path
        assert out.dtype == torch.uint8 and out.shape == (64, 64, 3)
        assert _agree(out, ref) >= 0.999 and ref.any()


def test_cpu_textures_and_background_match_torch_path():
    sh = _shapes("accelerating_transforming_shapes")
    ids = np.arange(len(sh["kind"])) * 7 % NoiseTextures.pool_size
    bg = torch.randint(0, 256, (64, 64, 3), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    st = dynamics.state_at(sh, 20)
    ref = shapes.render_frame_torch(sh, st, 64, "cpu", NoiseTextures(), ids, background=bg)
    out = torch.from_numpy(render_frame_cpu(sh, st, 64, NoiseTextures(), ids, background=bg))
    assert _agree(out, ref) >= 0.999
    empty = dict(st, alive=np.zeros_like(st["alive"]))    # no shape drawn: the background shows everywhere
    assert torch.equal(shapes.render_frame(sh, empty, 64, "cpu", background=bg), bg)


def test_cpu_path_deterministic_and_subsets_equal_whole_video():
    name = "accelerating_transforming_shapes"
    whole = render(name, 2, size=16, cfg=CFG)
    assert torch.equal(whole, render(name, 2, size=16, cfg=CFG))
    assert torch.equal(render(name, 2, frames=[len(whole) - 1, 3], size=16, cfg=CFG), whole[[-1, 3]])


@pytest.mark.slow
def test_cpu_path_bit_identical_across_processes():
    code = ("from synvid.render.video import render;from synvid.config import RenderConfig;import hashlib;"
            "v=render('moving_shapes',5,frames=[0,9],size=48,cfg=RenderConfig(num_shapes=60));"
            "print(hashlib.sha256(v.numpy().tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    import hashlib
    v = render("moving_shapes", 5, frames=[0, 9], size=48, cfg=CFG)
    assert out.strip() == hashlib.sha256(v.numpy().tobytes()).hexdigest()


@pytest.mark.parametrize("name", ["static_circles", "moving_shapes", "accelerating_transforming_shapes_slow"])
def test_batched_clips_match_torch_path(name):
    frames = [[0, 4, 8], [40, 44, 48]]
    v = batch.render_clips(name, [1, 4], frames, seed=3, size=32, device="cpu", cfg=CFG)
    assert v.shape == (2, 3, 32, 32, 3) and v.dtype == torch.uint8
    for b, i in enumerate([1, 4]):
        sh = _shapes(name, i, seed=3)
        for j, t in enumerate(frames[b]):
            ref = shapes.render_frame_torch(sh, dynamics.state_at(sh, t), 32, "cpu")
            assert _agree(v[b, j], ref) >= 0.999


def test_batched_errors():
    with pytest.raises(NotImplementedError, match="textured"):
        batch.render_clips("accelerating_transforming_textures", [0], [[0]], cfg=CFG)
    with pytest.raises(ValueError, match="frames must lie"):
        batch.render_clips("moving_shapes", [0], [[500]], size=32, cfg=CFG)
    with pytest.raises(KeyError, match="unknown synthetic dataset"):
        batch.render_clips("nope", [0], [[0]], cfg=CFG)
