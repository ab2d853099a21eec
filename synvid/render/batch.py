"""Batched rendering of many clips at once (CUDA target, runs anywhere): the pixel semantics of
shapes.render_frame_torch for B clips x T frames, with no Python loop per shape, frame or pixel.

States are closed form (dynamics.state_at written on tensors); every (frame, shape, 16x16 tile) triple whose
boxes meet is expanded by repeat_interleave and inside-tested in chunks of PAIRS tiles (bounded memory), the
top-most shape per pixel kept by scatter_reduce(amax) on z = placement order (PROTOCOLS §6).
"""
from dataclasses import replace
from typing import Optional, Sequence

import numpy as np
import torch

from synvid.config import RenderConfig
from synvid.render import dynamics
from synvid.render.shapes import TILE, _TILE_OFFSETS, _inside

PAIRS = {"cuda": 1 << 16, "cpu": 1 << 11}   # (tile, shape) pairs per chunk: <= PAIRS * 256 pixel tests
_KEYS = ("kind", "radius", "centre", "colour", "theta", "speed", "accel", "omega", "scale", "shear",
         "corners", "pivot")


def _shapes(name, indices, seed, cfg, device):
    """sample_shapes of every clip, stacked into float64 / int64 tensors [B, N, ...] on device."""
    from synvid import progression
    spec = progression._spec(name)
    if spec.texture is not None:
        raise NotImplementedError(f"batched rendering covers the shape datasets only; {name} is textured "
                                  "(render it with progression.render / the CPU workers)")
    cfg = replace(cfg, speed_multiplier=cfg.speed_multiplier * spec.speed_multiplier)   # as progression.render
    shs = [dynamics.sample_shapes(dynamics.rng_for(seed, name, int(i), 0), spec, cfg) for i in indices]
    return {k: torch.as_tensor(np.stack([s[k] for s in shs]), device=device) for k in _KEYS}


def states(sh: dict, t: torch.Tensor) -> dict:
    """dynamics.state_at for frames t [B, T] of clips sh [B, N, ...] -> centre [B, T, N, 2], A [.., 2, 2]."""
    t = t.to(sh["centre"])[:, :, None]                                   # [B, T, 1]
    dist = (sh["speed"][:, None] + sh["accel"][:, None] * t) * t
    d = torch.stack([torch.cos(sh["theta"]), torch.sin(sh["theta"])], -1)[:, None]
    centre = sh["centre"][:, None] + dist[..., None] * d
    ang = sh["omega"][:, None] * t
    c, s = torch.cos(ang), torch.sin(ang)
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    sc = 1.0 + sh["scale"][:, None] * t[..., None]
    shx, shy = sh["shear"][:, None, :, 0] * t, sh["shear"][:, None, :, 1] * t
    one, zero = torch.ones_like(shx), torch.zeros_like(shx)
    scl = torch.stack([torch.stack([sc[..., 0], zero], -1), torch.stack([zero, sc[..., 1]], -1)], -2)
    shr = torch.stack([torch.stack([one, shx], -1), torch.stack([shy, one], -1)], -2)
    a = rot @ scl @ shr                                                  # same association as state_at
    alive = ((centre > -256) & (centre < 512)).all(-1)
    return dict(centre=centre, A=a, alive=alive)


def _boxes(sh, st):
    """shapes._boxes on tensors: world boxes (lo, hi) [B, T, N, 2]."""
    circle = (sh["kind"] == 0)[..., None]
    r = sh["radius"][..., None]
    lo = torch.where(circle, -r, sh["corners"].amin(-2))
    hi = torch.where(circle, r, sh["corners"].amax(-2))
    box = torch.stack([lo, torch.stack([hi[..., 0], lo[..., 1]], -1), hi,
                       torch.stack([lo[..., 0], hi[..., 1]], -1)], -2)           # [B, N, 4, 2]
    local = (box - sh["pivot"][..., None, :])[:, None]                          # [B, 1, N, 4, 2]
    world = torch.einsum("btnij,btnkj->btnki", st["A"], local.expand(-1, st["A"].shape[1], -1, -1, -1)) \
        + (st["centre"] + sh["pivot"][:, None])[..., None, :]
    return world.amin(-2), world.amax(-2)


def _pairs(lo, hi, vis, size):
    """(frame, shape, first pixel of tile) for every tile a visible shape's box meets, fully vectorised."""
    n = size // TILE
    scale = size / 256.0 / TILE
    f, k = vis.nonzero(as_tuple=True)                                             # frame (B*T flat), shape
    t0 = (lo[f, k] * scale).floor().clamp(0, n - 1).long()
    t1 = (hi[f, k] * scale).floor().clamp(0, n - 1).long()
    w = t1[:, 0] - t0[:, 0] + 1
    cnt = w * (t1[:, 1] - t0[:, 1] + 1)
    inst = torch.repeat_interleave(torch.arange(len(f), device=lo.device), cnt)
    j = torch.arange(len(inst), device=lo.device) - (torch.cumsum(cnt, 0) - cnt)[inst]
    ty, tx = t0[inst, 1] + j // w[inst], t0[inst, 0] + j % w[inst]
    return f[inst], k[inst], ty * TILE * size + tx * TILE


def _background_rows(name, indices, seed, bg, device):
    """Colour of label 0 (no shape) per clip [B, 1, 3]: black, or progression's per-video 'color' background."""
    from synvid import progression
    if bg == "black":
        return torch.zeros(len(indices), 1, 3, dtype=torch.uint8, device=device)
    if bg == "color":
        rgb = [progression.background_colour(name, int(i), seed) for i in indices]
        return torch.tensor(rgb, dtype=torch.uint8, device=device)[:, None]
    raise NotImplementedError(f"batched rendering implements the black and color backgrounds, not {bg!r} "
                              "(render it with progression.render / the CPU workers)")


def render_clips(name: str, indices: Sequence[int], frames_per_clip, *, seed: int = 0, size: int = 256,
                 device="cpu", cfg: Optional[RenderConfig] = None, background: Optional[str] = None) -> torch.Tensor:
    """Clips `frames_per_clip[b]` (T frame ids each) of videos `indices[b]` -> uint8 [B, T, size, size, 3],
    pixel for pixel shapes.render_frame_torch of progression.render's frames (shape datasets only).
    `background` (black | color) resolves like progression.render's."""
    from synvid import progression
    cfg, device = cfg or RenderConfig(), torch.device(device)
    spec = progression._spec(name)
    bg = background or (spec.background if spec.background != "black" else cfg.background)
    back = _background_rows(name, indices, seed, bg, device)
    if size % TILE:
        raise ValueError(f"render size must be a multiple of {TILE}, got {size}")
    frames = torch.as_tensor(np.asarray(frames_per_clip, dtype=np.int64).reshape(len(indices), -1))
    for i, fr in zip(indices, frames.tolist()):
        n = progression.num_frames(name, int(i), seed, cfg)
        if any(t < 0 or t >= n for t in fr):
            raise ValueError(f"frames must lie in [0, {n}) for {name} video {i}, got {fr}")
    sh = _shapes(name, indices, seed, cfg, device)
    b, t, nsh = len(indices), frames.shape[1], sh["kind"].shape[1]
    st = states(sh, frames.to(device))
    lo, hi = _boxes(sh, st)
    vis = (st["alive"] & (hi >= 0).all(-1) & (lo < 256.0).all(-1)).view(b * t, nsh)
    f32 = dict(dtype=torch.float32, device=device)
    g = lambda x: x.reshape(b * t, nsh, *x.shape[3:])                             # noqa: E731  [B*T, N, ...]
    ainv, off = g(torch.linalg.inv(st["A"])).to(**f32), g(st["centre"]).to(**f32)
    pivot, corners = sh["pivot"].to(**f32), sh["corners"].to(**f32)
    off = off + pivot.repeat_interleave(t, 0)
    r2 = (sh["radius"] ** 2).to(**f32)
    ax = torch.arange(size, **f32) * (256.0 / size)
    grid = torch.stack(torch.meshgrid(ax, ax, indexing="xy"), -1).view(-1, 2)
    top = torch.zeros(b * t * size * size, dtype=torch.int32, device=device)     # 1 + shape index, 0 = none
    fr, kk, tile = _pairs(lo.view(b * t, nsh, 2), hi.view(b * t, nsh, 2), vis, size)
    clip = fr // t
    step = PAIRS.get(device.type, PAIRS["cpu"])
    for s in range(0, len(fr), step):                  # chunks of (tile, shape) pairs: bounded memory
        f_, k_, c_, t_ = fr[s:s + step], kk[s:s + step], clip[s:s + step], tile[s:s + step]
        flat = _TILE_OFFSETS(size, device)[None] + t_[:, None]
        ins = _inside(grid[flat], ainv[f_, k_], off[f_, k_], pivot[c_, k_], sh["kind"][c_, k_] == 0,
                      r2[c_, k_], corners[c_, k_])
        dst = (flat + f_[:, None] * size * size).reshape(-1)
        top.scatter_reduce_(0, dst, (ins * (k_[:, None] + 1)).reshape(-1).int(), "amax")
    top = top.view(b, t * size * size).long()
    colour = torch.cat([back, sh["colour"].to(torch.uint8)], 1)                  # row 0 = the background
    return torch.gather(colour, 1, top[..., None].expand(-1, -1, 3)).view(b, t, size, size, 3)
