"""Per-shape parameters at t = 0 and the closed-form state at frame t (Table 8, PROTOCOLS §6)."""
import math
import zlib

import numpy as np
import torch

KINDS = ("circle", "square", "oriented_square", "rectangle", "triangle", "quadrilateral")  # PROTOCOLS §6 / Q4
_R_GRID = np.linspace(0.1, 1.0, 200)       # PROTOCOLS §6: dead-leaves radius law, sigma = 3
_R_CDF = np.cumsum(_R_GRID ** -3 - 1.0)
_R_CDF = _R_CDF / _R_CDF[-1]


def rng_for(seed: int, name: str, index: int, stream: int = 0) -> np.random.Generator:
    """Generator keyed by (seed, name, index, stream): independent of process, order and device."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode()), int(index), int(stream)])


def _corners(kind: str, r: float, rng) -> np.ndarray:
    """Local convex corners [4, 2] (triangles repeat one), counter-clockwise in image coordinates.
    Polygons except the plain square are centred at (r, r) (the +r offset of PROTOCOLS §6)."""
    if kind == "square":                    # plain square spans [0, r*sqrt(2)]^2
        s = r * math.sqrt(2)
        return np.array([[0, 0], [s, 0], [s, s], [0, s]], dtype=np.float64)
    if kind == "oriented_square":
        ang = rng.uniform(0, math.pi / 2) + np.arange(4) * math.pi / 2
    elif kind == "rectangle":
        a = rng.uniform(0.1, math.pi / 2 - 0.1)
        ang = np.array([-a, a, math.pi - a, math.pi + a])
    elif kind == "triangle":
        ang = np.sort(rng.uniform(0, 2 * math.pi, 3))
        ang = np.concatenate([ang, ang[-1:]])
    else:                                    # quadrilateral: 4 points on the circle, sorted -> convex
        ang = np.sort(rng.uniform(0, 2 * math.pi, 4))
    return np.stack([r + r * np.cos(ang), r + r * np.sin(ang)], axis=1)


def sample_shapes(rng, spec, cfg) -> dict:
    """All shapes of one video at t = 0, as float64 numpy arrays (index order = z-order)."""
    n = cfg.num_shapes
    kinds = np.zeros(n, dtype=np.int64) if spec.kinds == ("circle",) else rng.integers(0, len(KINDS), n)
    r_norm = _R_GRID[np.searchsorted(_R_CDF, rng.uniform(0, 1, n)).clip(0, len(_R_GRID) - 1)]
    radius = np.maximum((r_norm * 256).astype(np.int64), 1).astype(np.float64)
    centre = rng.uniform(0, 512, (n, 2))                          # 2x canvas (PROTOCOLS §6)
    colour = rng.integers(0, 256, (n, 3))
    theta = rng.uniform(-math.pi, math.pi, n)                     # Table 8
    speed = rng.uniform(cfg.min_speed, cfg.max_speed, n) * cfg.speed_multiplier * spec.moving
    accel = rng.uniform(-cfg.max_accel, cfg.max_accel, n) * cfg.speed_multiplier * spec.accelerating
    omega = rng.uniform(-cfg.max_rotation_speed, cfg.max_rotation_speed, n) * spec.affine
    scale = rng.uniform(-cfg.max_scale_speed, cfg.max_scale_speed, (n, 2)) * spec.affine
    shear = rng.uniform(-cfg.max_shear_speed, cfg.max_shear_speed, (n, 2)) * spec.affine
    corners = np.stack([_corners(KINDS[k], r, rng) for k, r in zip(kinds, radius)])
    is_circle = kinds == 0
    shear[is_circle] = 0.0                   # circles get scale only (PROTOCOLS §6)
    omega = np.where(is_circle, np.deg2rad(omega), omega)  # code passes the circle angle to cv2 as degrees
    pivot = np.where(is_circle[:, None], 0.0, (radius // 2)[:, None].repeat(2, 1))
    return dict(kind=kinds, radius=radius, centre=centre, colour=colour, theta=theta, speed=speed,
                accel=accel, omega=omega, scale=scale, shear=shear, corners=corners, pivot=pivot)


def state_at(sh: dict, t: int, device) -> dict:
    """Closed-form state at frame t: centre c0 + (v0 + a t) t (cos, sin) and A = R S Sh (PROTOCOLS §6)."""
    dist = (sh["speed"] + sh["accel"] * t) * t
    centre = sh["centre"] + dist[:, None] * np.stack([np.cos(sh["theta"]), np.sin(sh["theta"])], 1)
    ang = sh["omega"] * t
    c, s = np.cos(ang), np.sin(ang)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    sc = 1.0 + sh["scale"] * t
    scl = np.zeros_like(rot)
    scl[:, 0, 0], scl[:, 1, 1] = sc[:, 0], sc[:, 1]
    shr = np.tile(np.eye(2), (len(ang), 1, 1))
    shr[:, 0, 1], shr[:, 1, 0] = sh["shear"][:, 0] * t, sh["shear"][:, 1] * t
    a = rot @ scl @ shr
    return dict(centre=centre, A=a, alive=(centre > -256).all(1) & (centre < 512).all(1))
