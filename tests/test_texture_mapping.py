"""Every textured shape reads its texture as the authors' offline generator maps it.

The reference below transcribes generation_code/gen_syn_video.py (YU) in numpy: the affine A = R S Sh about the
pivot (r//2, r//2) (:180-199), the polygon corners it moves (:246-251), cv2.getAffineTransform between the first
three local corners and their current positions (:260), and for circles the fixed frame
(0, r), (r, 0), (2r, r) -> (cx - r, cy), (cx, cy - r), (cx + r, cy) with rotate_angle = 0 (:157-167). The texture
is resized to 512^2 nearest (:156), so a 512-px texture point X shows texel floor(X S / 512) of an S^2 texture.
A texture that codes its own coordinates (red = column, green = row) makes the comparison exact per pixel.
"""
from dataclasses import replace

import numpy as np
import pytest
import torch

from synvid import progression as P
from synvid.config import RenderConfig
from synvid.render import batch, dynamics, shapes
from synvid.render.raster_cpu import render_frame_cpu
from synvid.render.video import PerVideo, render

S = 256                 # texels fit in uint8
FIXED = "accelerating_transforming_textures"


class CoordTexture:
    """Every id -> the same S x S texture whose texel (v, u) holds (u, v, 255); blue marks 'a texel was read'."""
    pool_size, size = 10, S

    def get(self, ids, device):
        v, u = torch.meshgrid(torch.arange(S), torch.arange(S), indexing="ij")
        tex = torch.stack([u, v, torch.full_like(u, 255)], -1).to(torch.uint8)
        return tex.expand(len(ids), S, S, 3).to(device)


def _authors_affine(sh, i, t):
    """2x3 M of cv2.getAffineTransform(local corners -> canvas corners) for shape i at frame t (gen_syn_video.py)."""
    r, (cx, cy) = sh["radius"][i], sh["centre_t"][i]
    if sh["kind"][i] == 0:                                   # :157-167, offline: rotate_angle = 0, radius_x = r
        ang, rx, ry = 0.0, r, r
        c, s = np.cos(ang), np.sin(ang)
        src = np.array([(0, r), (r, 0), (2 * r, r)], np.float64)
        dst = np.array([(cx - rx * c, cy + rx * s), (cx - ry * s, cy - ry * c), (cx + r * c, cy - r * s)])
    else:                                                    # :180-199, :246-251
        p = r // 2
        a = sh["omega"][i] * t
        c, s = np.cos(a), np.sin(a)
        rot = np.array([(c, -s, p * (1 - c) + p * s), (s, c, p * (1 - c) - p * s), (0, 0, 1)])
        sx, sy = 1 + sh["scale"][i] * t
        scl = np.array([(sx, 0, p * (1 - sx)), (0, sy, p * (1 - sy)), (0, 0, 1)])
        hx, hy = sh["shear"][i] * t
        shr = np.array([(1, hx, -hx * p), (hy, 1, -hy * p), (0, 0, 1)])
        src = sh["corners"][i][:3]
        moved = (rot @ scl @ shr @ np.c_[src, np.ones(3)].T).T[:, :2]
        dst = moved + np.array([cx, cy])
    m = np.linalg.solve(np.c_[src, np.ones(3)], dst)         # getAffineTransform: [x y 1] @ m = dst
    return m.T                                               # [2, 3]


def _expected_texture_point(m, size):
    """512-px texture point warpAffine samples at each output pixel: M^-1 applied to the canvas point."""
    ax = np.arange(size) * (256.0 / size)
    x, y = np.meshgrid(ax, ax, indexing="xy")
    inv = np.linalg.inv(np.r_[m, [[0, 0, 1]]])
    return inv[0, 0] * x + inv[0, 1] * y + inv[0, 2], inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]


def _single_shapes():
    """One shape of each of the six kinds from the fixed set's sampler, placed near the canvas centre."""
    spec = P.DATASETS[FIXED]
    sh = dynamics.sample_shapes(P.rng_for(0, FIXED, 3, 0), spec, RenderConfig(num_shapes=400))
    for kind in range(len(dynamics.KINDS)):
        cand = np.nonzero((sh["kind"] == kind) & (sh["radius"] >= 30) & (sh["radius"] <= 80))[0]
        i = cand[0]
        one = {k: v[i:i + 1].copy() for k, v in sh.items()}
        one["centre"][:] = (90.25, 80.75) if kind else (128.25, 120.5)   # polygons lie down-right of the centre
        one["speed"][:] = 0.7
        yield kind, one


def _render(path, one, st, size):
    ids = np.zeros(1, np.int64)
    if path == "numba":
        return render_frame_cpu(one, st, size, CoordTexture(), ids)
    if path == "torch":
        return shapes.render_frame_torch(one, st, size, "cpu", CoordTexture(), ids).numpy()
    tensors = {k: torch.as_tensor(one[k])[None] for k in batch._KEYS + ("tex_origin",)}
    table = CoordTexture().get(torch.zeros(1, dtype=torch.int64), "cpu")
    return batch.render_shapes(tensors, torch.zeros(1, 3, dtype=torch.uint8), torch.tensor([[st["t"]]]), size,
                               textures=(table, torch.zeros(1, 1, dtype=torch.int64)))[0, 0].numpy()


@pytest.mark.parametrize("path", ["numba", "torch", "batched"])
def test_every_kind_reads_the_authors_texel(path):
    for kind, one in _single_shapes():
        for t, size in ((0, 256), (37, 256), (37, 224)):
            st = dict(dynamics.state_at(one, t), t=t)
            out = _render(path, one, st, size)
            covered = out[..., 2] == 255
            assert covered.sum() > 200, (kind, t)
            m = _authors_affine(dict(one, centre_t=st["centre"]), 0, t)
            ex, ey = _expected_texture_point(m, size)
            # the authors' mapping keeps every covered pixel inside the texture: [0, 2r]^2 within 512^2
            assert ex[covered].min() > -1e-6 and ey[covered].min() > -1e-6, (kind, t)
            assert ex[covered].max() <= 2 * one["radius"][0] + 1e-6 >= ey[covered].max(), (kind, t)
            u, v = np.floor(ex * S / 512), np.floor(ey * S / 512)
            same = (out[..., 0] == u) & (out[..., 1] == v)
            # float32 (torch, batched) may round a point lying within 1e-3 texel of a texel edge the other way
            edge = (np.abs(ex * S / 512 - np.round(ex * S / 512)) < 1e-3) | \
                (np.abs(ey * S / 512 - np.round(ey * S / 512)) < 1e-3)
            assert (same | edge)[covered].all(), (kind, t, path, int((~same & covered).sum()))
            assert same[covered].mean() > 0.99


def test_offline_circles_never_rotate_or_scale_on_the_fly_ones_do():
    cfg = RenderConfig(num_shapes=300)
    for name, frozen in ((FIXED, True), ("accelerating_transforming_image_crops", True),
                         ("accelerating_transforming_shapes", False), ("moving_transforming_shapes", False)):
        sh = dynamics.sample_shapes(P.rng_for(0, name, 1, 0), P.DATASETS[name], cfg)
        circle = sh["kind"] == 0
        moved = np.abs(sh["omega"][circle]).max() + np.abs(sh["scale"][circle]).max()
        assert (moved == 0) == frozen, name
        assert np.abs(sh["omega"][~circle]).min() > 0 and np.abs(sh["scale"][~circle]).min() > 0   # polygons move
        assert np.all(sh["shear"][circle] == 0)
        a = dynamics.state_at(sh, 50)["A"][circle]
        assert np.allclose(a, np.eye(2)) == frozen


def test_video_lengths_offline_100_to_199_on_the_fly_100_to_200():
    """gen_syn_video.py:386 np.random.randint(100, 200) excludes 200; dataset_mixed.py:126 random.randint(100, 200)
    includes it."""
    fixed = {P.num_frames(FIXED, i) for i in range(3000)}
    fly = {P.num_frames("moving_shapes", i) for i in range(3000)}
    assert fixed == set(range(100, 200)) and fly == set(range(100, 201))
    cfg = replace(RenderConfig(), min_frames=20, max_frames=20)
    assert P.num_frames("moving_shapes", 0, cfg=cfg) == 20
    with pytest.raises(ValueError, match="fixed set excludes max_frames"):
        P.num_frames(FIXED, 0, cfg=cfg)


@pytest.mark.parametrize("name", [n for n, s in P.DATASETS.items() if s.fills_shapes])
def test_textured_sets_do_not_pile_up_on_the_texture_edge(name):
    """Whole frames of every textured set: texels on row or column 0 stay ~1/(texture window) of the textured pixels
    (before the fix, clamped circle reads put 20-47% of them there)."""
    src = CoordTexture()
    src.get_at = lambda ids, t, device="cpu": src.get(ids, device)      # dynamic sets: the same texture every frame
    video = render(name, 0, frames=[0, 30], size=128, cfg=RenderConfig(num_shapes=200), textures=src,
                     background="black").numpy()
    covered = video[..., 2] == 255
    assert covered.mean() > 0.3
    assert ((video[..., 0] == 0) | (video[..., 1] == 0))[covered].mean() < 0.06


def test_per_video_texture_table_gives_the_plain_source_pixels():
    """render.video.PerVideo hands the numba path one growing table and a row per shape (no copy per frame)."""
    class Noise:
        pool_size, size = 50, 8
        bank = torch.randint(0, 256, (50, 8, 8, 3), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)

        def get(self, ids, device):
            return self.bank[torch.as_tensor(ids)].to(device)
    per_video = PerVideo(Noise())
    for ids in ([3, 7, 3], [], [7, 1, 2, 4, 5, 6, 8, 9, 10], [49, 3]):      # repeats, empty, growth
        assert torch.equal(per_video.get(torch.tensor(ids, dtype=torch.int64), "cpu"), Noise.bank[ids])
    sh = dynamics.sample_shapes(P.rng_for(0, FIXED, 2, 0), P.DATASETS[FIXED], RenderConfig(num_shapes=120))
    ids = np.arange(120) % 50
    for t in (0, 40):
        st = dynamics.state_at(sh, t)
        plain = render_frame_cpu(sh, st, 64, Noise(), ids)
        assert np.array_equal(render_frame_cpu(sh, st, 64, PerVideo(Noise()), ids), plain)
        assert np.array_equal(render_frame_cpu(sh, st, 64, per_video, ids), plain)
