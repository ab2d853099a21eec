"""Fast rasterisers: numba CPU path and batched torch path against the torch tile path."""
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
    """Random 8x8 textures per id: exercises the texel lookup (uniform ones would hide a wrong texel)."""
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


def _batched(name, indices, frames, seed=0, background="black"):
    """Clips of videos `indices` at `frames` [B][T] through the batched path's two halves, as
    synvid.data.batched.DeviceBatches runs them: clip_shapes + background_of (host), render_shapes (device)."""
    shs = [batch.clip_shapes(name, i, seed, CFG) for i in indices]
    sh = {k: torch.as_tensor(np.stack([s[k] for s in shs])) for k in shs[0]}
    back = torch.as_tensor(np.stack([batch.background_of(name, i, seed, background) for i in indices]))
    return batch.render_shapes(sh, back, torch.tensor(frames), 32)


@pytest.mark.parametrize("name", ["static_circles", "moving_shapes", "accelerating_transforming_shapes_slow"])
def test_batched_clips_match_torch_path(name):
    frames = [[0, 4, 8], [40, 44, 48]]
    v = _batched(name, [1, 4], frames, seed=3)
    assert v.shape == (2, 3, 32, 32, 3) and v.dtype == torch.uint8
    for b, i in enumerate([1, 4]):
        sh = _shapes(name, i, seed=3)
        for j, t in enumerate(frames[b]):
            ref = shapes.render_frame_torch(sh, dynamics.state_at(sh, t), 32, "cpu")
            assert _agree(v[b, j], ref) >= 0.999


def test_batched_colour_background_matches_torch_path():
    name = "moving_shapes"
    v = _batched(name, [2, 5], [[0, 4], [8, 12]], background="color")
    for b, i in enumerate([2, 5]):
        sh = _shapes(name, i)
        back = torch.tensor(P.background_colour(name, i), dtype=torch.uint8).expand(32, 32, 3)
        ref = shapes.render_frame_torch(sh, dynamics.state_at(sh, 4 * (2 * b + 1)), 32, "cpu", background=back)
        assert _agree(v[b, 1], ref) >= 0.999


def test_batched_errors():
    with pytest.raises(NotImplementedError, match="textured"):
        batch.clip_shapes("accelerating_transforming_textures", 0, 0, CFG)
    with pytest.raises(KeyError, match="unknown synthetic dataset"):
        batch.clip_shapes("nope", 0, 0, CFG)
    with pytest.raises(NotImplementedError, match="image"):
        batch.background_of("moving_shapes", 0, 0, "image")
