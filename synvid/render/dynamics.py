"""Per-shape parameters at t = 0 and the closed-form state at frame t (Table 8, PROTOCOLS §6)."""
import math
from dataclasses import replace

import numpy as np
import torch

from synvid import progression
from synvid.progression import KINDS

_R_GRID = np.linspace(0.1, 1.0, 200)       # PROTOCOLS §6: dead-leaves radius law, sigma = 3
_R_CDF = np.cumsum(_R_GRID ** -3 - 1.0)
_R_CDF = _R_CDF / _R_CDF[-1]


def _nearest_cdf(p: np.ndarray) -> np.ndarray:
    """Index of the CDF point nearest to each p (code: argmin |r_dist - p|, first index on a tie)."""
    hi = np.searchsorted(_R_CDF, p).clip(0, len(_R_CDF) - 1)
    lo = np.maximum(hi - 1, 0)
    return np.where(np.abs(_R_CDF[lo] - p) <= np.abs(_R_CDF[hi] - p), lo, hi)


def _corners(kinds, radius, rng) -> np.ndarray:
    """Local convex corners [N, 4, 2] of every shape (triangles repeat one corner), in increasing-angle order,
    as train_code/dataset_mixed.py lays them out (init_buffer / dead_leaves; docs/generator.md lists lines).
    All random numbers are drawn as arrays for every shape (one fixed stream layout, no per-shape loop).
    The code casts corners to int32 (trunc; all values here are >= 0 except the pre-rotation oriented square,
    which is symmetric), so integer corners are reproduced. Circles keep zero corners (drawn from radius)."""
    n = len(kinds)
    r = radius[:, None]
    theta = rng.uniform(0, 2 * math.pi, n)                  # oriented square: theta ~ U(0, 2 pi)
    a = rng.uniform(0, 0.5 * math.pi, n)                    # rectangle: a ~ U(0, pi/2)
    ang = np.sort(rng.uniform(0, 2 * math.pi, (n, 4)), 1)   # quadrilateral: 4 sorted angles
    tri = np.sort(rng.uniform(0, 2 * math.pi, (n, 3)), 1)   # triangle: 3 sorted angles
    out = np.zeros((n, 4, 2))
    side = np.trunc(radius * math.sqrt(2))[:, None]         # square: int32 corners of [0, r sqrt2]^2
    out[kinds == 1] = (np.array([[0, 0], [1, 0], [1, 1], [0, 1]]) * side[:, :, None])[kinds == 1]
    h = np.trunc(radius * math.sqrt(2) / 2)[:, None, None]  # oriented: int32(+-side/2), rotated, + (r, r)
    sq = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * h
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    rot = np.stack([c * sq[..., 0] - s * sq[..., 1], s * sq[..., 0] + c * sq[..., 1]], -1) + r[..., None]
    out[kinds == 2] = rot[kinds == 2]
    sx, sy = np.array([1, 1, -1, -1]), np.array([-1, 1, 1, -1])   # rectangle: (r +- r cos a, r +- r sin a)
    rect = np.stack([np.trunc(r + sx * r * np.cos(a)[:, None]), np.trunc(r + sy * r * np.sin(a)[:, None])], -1)
    out[kinds == 3] = rect[kinds == 3]
    tri = np.concatenate([tri, tri[:, -1:]], 1)
    for k, angs in ((4, tri), (5, ang)):                    # points on the radius-r circle around (r, r)
        pts = np.stack([np.trunc(r + r * np.cos(angs)), np.trunc(r + r * np.sin(angs))], -1)
        out[kinds == k] = pts[kinds == k]
    return out


def sample_shapes(rng, spec, cfg) -> dict:
    """All shapes of one video at t = 0, as float64 numpy arrays (index order = z-order)."""
    n = cfg.num_shapes
    kinds = np.zeros(n, dtype=np.int64) if spec.kinds == ("circle",) else rng.integers(0, len(KINDS), n)
    r_norm = _R_GRID[_nearest_cdf(rng.uniform(0, 1, n))]
    radius = np.maximum((r_norm * 256).astype(np.int64), 1).astype(np.float64)
    centre = np.floor(rng.uniform(0, 512, (n, 2)))                # 2x canvas, int32 in the code (PROTOCOLS §6)
    colour = (rng.uniform(0, 1, (n, 3)) * 255).astype(np.int64)  # code: int(U(0, 1) * 255), 0..254
    theta = rng.uniform(-math.pi, math.pi, n)                     # Table 8
    speed = rng.uniform(cfg.min_speed, cfg.max_speed, n) * cfg.speed_multiplier * spec.moving
    accel = rng.uniform(-cfg.max_accel, cfg.max_accel, n) * cfg.speed_multiplier * spec.accelerating
    omega = rng.uniform(-cfg.max_rotation_speed, cfg.max_rotation_speed, n) * spec.affine
    scale = rng.uniform(-cfg.max_scale_speed, cfg.max_scale_speed, (n, 2)) * spec.affine
    shear = rng.uniform(-cfg.max_shear_speed, cfg.max_shear_speed, (n, 2)) * spec.affine
    corners = _corners(kinds, radius, rng)
    is_circle = kinds == 0
    shear[is_circle] = 0.0                   # circles get scale only (PROTOCOLS §6)
    if spec.fixed:      # offline generator (gen_syn_video.py:157-160): rotate_angle = 0, radius_x = radius_y = r
        omega[is_circle], scale[is_circle] = 0.0, 0.0
    omega = np.where(is_circle, np.deg2rad(omega), omega)  # code passes the circle angle to cv2 as degrees
    pivot = np.where(is_circle[:, None], 0.0, (radius // 2)[:, None].repeat(2, 1))
    return dict(kind=kinds, radius=radius, centre=centre, colour=colour, theta=theta, speed=speed,
                accel=accel, omega=omega, scale=scale, shear=shear, corners=corners, pivot=pivot,
                tex_origin=texture_origin(kinds, radius))


def texture_origin(kinds, radius) -> np.ndarray:
    """[N, 2] texel (in 512-px texture units) of the local origin: (r, r) for circles, 0 for polygons.
    A circle's local frame is centred on the circle, while the offline generator maps the circle's texture by
    getAffineTransform((0, r), (r, 0), (2r, r) -> (cx - r, cy), (cx, cy - r), (cx + r, cy)) (gen_syn_video.py:162-
    167), i.e. centre at texel (r, r): a circle shows the window [0, 2r]^2 of its texture, like the polygons, whose
    local corners already lie in [0, 2r]^2 (texel = local point, :260)."""
    return np.where(np.asarray(kinds)[:, None] == 0, np.asarray(radius, np.float64)[:, None], 0.0).repeat(2, 1)


def video_shapes(name: str, index: int, seed: int, cfg) -> dict:
    """sample_shapes of video `index` of `name` (its rng stream 0, the spec's speed multiplier applied): the shapes
    every renderer draws (render.video, the batched device path)."""
    spec = progression.spec(name)
    cfg = replace(cfg, speed_multiplier=cfg.speed_multiplier * spec.speed_multiplier)
    return sample_shapes(progression.rng_for(seed, name, index, 0), spec, cfg)


def _mat2(xp, m00, m01, m10, m11):
    """2x2 matrices [..., 2, 2] from their entries (numpy: one buffer, far cheaper than nested stacks per frame)."""
    if xp is torch:
        return torch.stack([torch.stack([m00, m01], -1), torch.stack([m10, m11], -1)], -2)
    out = np.empty(np.broadcast(m00, m01, m10, m11).shape + (2, 2))
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 0], out[..., 1, 1] = m00, m01, m10, m11
    return out


def state_at(sh: dict, t) -> dict:
    """Closed-form state at frame t: centre c0 + (v0 + a t) t (cos, sin) and A = R S Sh (PROTOCOLS §6).
    numpy shapes [N, ...] and an int t (the CPU and per-frame torch paths), or torch shapes broadcast against
    t (render.batch.states: [B, 1, N, ...] with t [B, T, 1]); the same operations in the same order for both."""
    xp = torch if isinstance(sh["centre"], torch.Tensor) else np
    t = t if xp is torch else np.asarray(t)
    dist = (sh["speed"] + sh["accel"] * t) * t
    centre = sh["centre"] + dist[..., None] * xp.stack([xp.cos(sh["theta"]), xp.sin(sh["theta"])], -1)
    ang = sh["omega"] * t
    c, s = xp.cos(ang), xp.sin(ang)
    sc = 1.0 + sh["scale"] * t[..., None]
    shx, shy = sh["shear"][..., 0] * t, sh["shear"][..., 1] * t
    one, zero = (xp.ones_like(shx), xp.zeros_like(shx)) if xp is torch else (1.0, 0.0)
    a = _mat2(xp, c, -s, s, c) @ _mat2(xp, sc[..., 0], zero, zero, sc[..., 1]) @ _mat2(xp, one, shx, shy, one)
    return dict(centre=centre, A=a, alive=((centre > -256) & (centre < 512)).all(-1))


def boxes(sh: dict, st: dict) -> tuple:
    """World bounding boxes lo, hi [..., N, 2] of the shapes at state st and which shapes are drawn at all: alive
    (centre in (-256, 512), PROTOCOLS §6) with a box that meets the 256-px canvas. numpy or torch, broadcast as
    state_at (render.batch: sh [B, 1, N, ...], st [B, T, N, ...]); raster_cpu._box_meets is its numba twin."""
    xp = torch if isinstance(st["A"], torch.Tensor) else np
    circle, r = (sh["kind"] == 0)[..., None], sh["radius"][..., None]
    lo = xp.where(circle, -r, xp.amin(sh["corners"], -2))
    hi = xp.where(circle, r, xp.amax(sh["corners"], -2))
    box = xp.stack([lo, xp.stack([hi[..., 0], lo[..., 1]], -1), hi, xp.stack([lo[..., 0], hi[..., 1]], -1)], -2)
    world = xp.einsum("...ij,...kj->...ki", st["A"], box - sh["pivot"][..., None, :]) \
        + (st["centre"] + sh["pivot"])[..., None, :]
    lo, hi = xp.amin(world, -2), xp.amax(world, -2)
    return lo, hi, st["alive"] & (hi >= 0).all(-1) & (lo < 256.0).all(-1)
