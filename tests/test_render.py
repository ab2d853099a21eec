"""Progression renderer: determinism, frames= subsets, static frames, errors, registry ranges."""
import math
import subprocess
import sys

import pytest
import torch

from synvid import progression as P
from synvid.config import RenderConfig
from synvid.render import dynamics
from synvid.render.stream import SyntheticClips
from synvid.render.video import render

CFG = RenderConfig(num_shapes=40)


def test_names_and_table8_defaults():
    assert P.NAMES[0] == "static_circles" and len(P.NAMES) == 8
    c = RenderConfig()
    assert (c.min_speed, c.max_speed, c.max_accel, c.num_shapes) == (1.2, 3.0, 0.03, 500)
    assert (c.max_rotation_speed, c.max_scale_speed, c.max_shear_speed) == (math.pi / 100, 0.005, 0.005)
    assert (c.size, c.fps, c.min_frames, c.max_frames, c.num_videos) == (256, 25, 100, 200, 9537)


@pytest.mark.parametrize("name", P.NAMES[:5])
def test_sampled_parameters_lie_in_table8_ranges(name):
    """Per dataset, the drawn per-shape parameters cover Table 8's ranges (and are zero where a set has none)."""
    spec, c = P.DATASETS[name], RenderConfig()
    sh = dynamics.sample_shapes(P.rng_for(0, name, 0), spec, c)
    def within(x, lo, hi):
        return x.min() >= lo and x.max() <= hi and (x.max() - x.min()) > 0.8 * (hi - lo)
    assert within(sh["theta"], -math.pi, math.pi)
    if spec.moving:
        assert within(sh["speed"], 1.2, 3.0)
    else:
        assert not sh["speed"].any()
    if spec.accelerating:
        assert within(sh["accel"], -0.03, 0.03)
    else:
        assert not sh["accel"].any()
    polygons = sh["kind"] != 0
    if spec.affine:
        assert within(sh["omega"][polygons], -math.pi / 100, math.pi / 100)
        assert within(sh["scale"], -0.005, 0.005) and within(sh["shear"][polygons], -0.005, 0.005)
    else:
        assert not (sh["omega"].any() or sh["scale"].any() or sh["shear"].any())
    assert set(sh["kind"].tolist()) == ({0} if spec.kinds == ("circle",) else set(range(6)))
    assert sh["radius"].min() >= 25 and sh["radius"].max() <= 256      # dead leaves, PROTOCOLS §6


@pytest.mark.parametrize("name", P.NAMES[:5])
def test_frames_subset_equals_full(name):
    full = render(name, 1, frames=range(0, 6), size=32, cfg=CFG)
    sub = render(name, 1, frames=[4, 1], size=32, cfg=CFG)
    assert torch.equal(sub[0], full[4]) and torch.equal(sub[1], full[1])


def test_static_identical_and_moving_differs():
    s = render("static_circles", 0, frames=[0, 5], size=32, cfg=CFG)
    assert torch.equal(s[0], s[1])
    m = render("moving_circles", 0, frames=[0, 30], size=32, cfg=CFG)
    assert not torch.equal(m[0], m[1])


def test_closed_form_matches_simulation():
    spec = P.DATASETS["accelerating_transforming_shapes"]
    sh = dynamics.sample_shapes(P.rng_for(0, "x", 0), spec, CFG)
    import numpy as np
    pos, vel = sh["centre"].copy(), sh["speed"] + sh["accel"]   # x_t = x0 + v0 t + a t^2: increments v0 + a(2t+1)
    d = np.stack([np.cos(sh["theta"]), np.sin(sh["theta"])], 1)
    for t in range(1, 20):
        pos = pos + vel[:, None] * d
        vel = vel + 2 * sh["accel"]
    assert np.allclose(dynamics.state_at(sh, 19)["centre"], pos)


@pytest.mark.slow
def test_determinism_across_processes():
    code = ("import torch,sys;from synvid.render.video import render;from synvid.config import RenderConfig;"
            "v=render('moving_shapes',3,frames=[2],size=32,cfg=RenderConfig(num_shapes=40));"
            "print(int(v.long().sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    v = render("moving_shapes", 3, frames=[2], size=32, cfg=CFG)
    assert int(out) == int(v.long().sum())


class UniformTextures:
    """A texture source (synvid.render.texture_api.TextureSource) of one uniform colour per id."""
    pool_size, size = 1000, 4

    def get(self, ids, device):
        rgb = torch.stack([ids * 37 % 256, ids * 91 % 256, ids * 13 % 256], -1).to(torch.uint8)
        return rgb.view(-1, 1, 1, 3).expand(-1, self.size, self.size, 3).to(device)


def test_textured_with_a_given_source_and_errors():
    v = render("accelerating_transforming_textures", 0, frames=[0], size=32, cfg=CFG, textures=UniformTextures())
    assert v.shape == (1, 32, 32, 3) and v.any()
    with pytest.raises(KeyError, match="unknown synthetic dataset"):
        render("nope", 0)
    with pytest.raises(ValueError, match=">= 0"):
        P.num_frames("moving_shapes", -1)
    with pytest.raises(FileNotFoundError, match="ImageNet"):
        render("accelerating_transforming_image_crops", 0, frames=[0], size=32, cfg=CFG)


def test_synthetic_clips_deterministic():
    ds = SyntheticClips("moving_circles", epoch_size=2, num_frames=2, sampling_rate=4, size=16)
    assert ds[1].shape == (2, 16, 16, 3) and torch.equal(ds[1], ds[1])


def _authors_corners(shape, radius, theta, a, angles):
    """train_code/dataset_mixed.py dead_leaves(), transcribed per shape (int32 casts included)."""
    import numpy as np
    if shape == "square":
        side = radius * np.sqrt(2)
        return np.array(((0, 0), (side, 0), (side, side), (0, side)), dtype="int32")
    if shape == "oriented_square":
        side = radius * np.sqrt(2)
        c = np.array(((-side / 2, -side / 2), (side / 2, -side / 2), (side / 2, side / 2), (-side / 2, side / 2)),
                     dtype="int32")
        rot = np.array(((np.cos(theta), -np.sin(theta)), (np.sin(theta), np.cos(theta))))
        return (rot @ c.T).T + np.array((radius, radius))
    if shape == "rectangle":
        return np.array(((radius * np.cos(a) + radius, radius * np.sin(a) + radius),
                         (radius * np.cos(a) + radius, -radius * np.sin(a) + radius),
                         (-radius * np.cos(a) + radius, -radius * np.sin(a) + radius),
                         (-radius * np.cos(a) + radius, radius * np.sin(a) + radius)), dtype="int32")
    return np.array([(radius * np.cos(t) + radius, radius * np.sin(t) + radius) for t in angles], dtype="int32")


def test_corner_layouts_follow_dataset_mixed():
    """Same corner sets as the authors' code for the same draws; ours are in increasing-angle order (convex)."""
    import math
    import numpy as np
    kinds = np.arange(1, 6).repeat(20)
    radius = np.random.default_rng(1).integers(1, 257, len(kinds)).astype(np.float64)
    ours = dynamics._corners(kinds, radius, np.random.default_rng(7))
    g = np.random.default_rng(7)                       # the draws _corners makes, in its order
    n = len(kinds)
    theta, a = g.uniform(0, 2 * math.pi, n), g.uniform(0, 0.5 * math.pi, n)
    quad, tri = np.sort(g.uniform(0, 2 * math.pi, (n, 4)), 1), np.sort(g.uniform(0, 2 * math.pi, (n, 3)), 1)
    for i, k in enumerate(kinds):
        ref = _authors_corners(dynamics.KINDS[k], radius[i], theta[i], a[i], tri[i] if k == 4 else quad[i])
        got = ours[i][:3] if k == 4 else ours[i]
        assert {tuple(np.round(p, 6)) for p in got} == {tuple(np.round(p, 6)) for p in ref}, (k, got, ref)
        e = np.roll(got, -1, 0) - got                  # convex, one turning direction (triangles: 3 corners)
        cross = e[:, 0] * np.roll(e, -1, 0)[:, 1] - e[:, 1] * np.roll(e, -1, 0)[:, 0]
        assert (cross >= -1e-9).all() or k in (4, 5)   # integer casts can dent near-collinear polygon points
