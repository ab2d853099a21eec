"""Batched rendering of many clips at once (CUDA target, runs anywhere): the pixel semantics of
shapes.render_frame_torch for B clips x T frames, with no Python loop per shape, frame or pixel.

States are closed form (dynamics.state_at written on tensors); every (frame, shape, 16x16 tile) triple whose
boxes meet is expanded by repeat_interleave and inside-tested in chunks of PAIRS tiles (bounded memory), the
top-most shape per pixel kept by scatter_reduce(amax) on z = placement order (PROTOCOLS §6). Before the pixel
tests, pairs hidden under a shape that covers their whole tile are dropped (_hidden): same pixels, far fewer tests.
A clip has a host half (`clip_shapes`, `background_of`: numpy, in DataLoader workers) and a device half
(`render_shapes`); synvid.data.batched puts them together for pre-training (`--render-device device`).
"""
import numpy as np
import torch

from synvid import progression
from synvid.config import RenderConfig
from synvid.errors import BadInput
from synvid.render import dynamics
from synvid.render.shapes import TILE, _TILE_OFFSETS, _inside

PAIRS = {"cuda": 1 << 16, "cpu": 1 << 11}   # (tile, shape) pairs per chunk: <= PAIRS * 256 pixel tests
MARGIN = 0.25   # canvas px the covering test grows a tile by, far above float32 rounding of the inside test
_KEYS = ("kind", "radius", "centre", "colour", "theta", "speed", "accel", "omega", "scale", "shear",
         "corners", "pivot")
_MOTION = ("centre", "theta", "speed", "accel", "omega", "scale", "shear")   # what dynamics.state_at reads
_BOX = ("kind", "radius", "corners", "pivot")                                  # what dynamics.boxes reads


def clip_shapes(name: str, index: int, seed: int, cfg: RenderConfig) -> dict:
    """dynamics.video_shapes of one video (numpy, [N, ...]): the CPU half of a clip, cheap enough for DataLoader
    workers (synvid.data.batched)."""
    if progression.spec(name).texture is not None:
        raise NotImplementedError(f"batched rendering covers the shape datasets only; {name} is textured "
                                  "(render it with render.video.render / the CPU workers)")
    return {k: v for k, v in dynamics.video_shapes(name, index, seed, cfg).items() if k in _KEYS}


def states(sh: dict, t: torch.Tensor) -> dict:
    """dynamics.state_at for frames t [B, T] of clips sh [B, N, ...] -> centre [B, T, N, 2], A [.., 2, 2]."""
    return dynamics.state_at({k: sh[k][:, None] for k in _MOTION}, t.to(sh["centre"])[:, :, None])


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


def _hidden(fr, kk, tile, test, size, num_frames, step):
    """True for the (frame, shape, tile) pairs below (in z) a shape that covers every pixel of the tile: such a
    pair can never be top-most. Shapes are convex (discs, ellipses, convex quads after an affine map), so a shape
    covers the tile's pixel square grown by MARGIN iff it holds the 4 corners; the margin keeps float rounding
    from ever disagreeing with the per-pixel tests, so the rendered pixels are unchanged."""
    px = 256.0 / size
    x0 = (tile % size).float() * px - MARGIN
    y0 = torch.div(tile, size, rounding_mode="floor").float() * px - MARGIN
    span = (TILE - 1) * px + 2 * MARGIN
    dx = torch.tensor([0.0, span, 0.0, span], device=tile.device)
    dy = torch.tensor([0.0, 0.0, span, span], device=tile.device)
    full = torch.empty(len(fr), dtype=torch.bool, device=tile.device)
    for s in range(0, len(fr), 64 * step):          # 4 points per pair: 64x the pixel chunk, same memory
        sl = slice(s, s + 64 * step)
        pts = torch.stack([x0[sl, None] + dx, y0[sl, None] + dy], -1)                       # [P, 4, 2]
        full[sl] = test(pts, fr[sl], kk[sl]).all(-1)
    n = size // TILE
    cell = fr * n * n + torch.div(tile, size * TILE, rounding_mode="floor") * n + (tile % size) // TILE
    floor = torch.zeros(num_frames * n * n, dtype=torch.long, device=tile.device)
    floor.scatter_reduce_(0, cell, torch.where(full, kk + 1, 0), "amax")                    # top full cover + 1
    return kk + 1 < floor[cell]


def background_of(name: str, index: int, seed: int, bg: str) -> np.ndarray:
    """Colour of label 0 (no shape) of one clip, uint8 [3]: black, or the registry's per-video 'color' one."""
    if bg == "black":
        return np.zeros(3, dtype=np.uint8)
    if bg == "color":
        return np.asarray(progression.background_colour(name, int(index), seed), dtype=np.uint8)
    raise NotImplementedError(f"batched rendering implements the black and color backgrounds, not {bg!r} "
                              "(render it with render.video.render / the CPU workers)")


def render_shapes(sh: dict, back: torch.Tensor, frames: torch.Tensor, size: int, textures=None) -> torch.Tensor:
    """The pixel half: clips sh (clip_shapes stacked, [B, N, ...] tensors on the target device), background
    colours back uint8 [B, 3] (background_of), frame ids [B, T] (already validated, as synvid.data.batched's
    ClipPlans draws them) -> uint8 [B, T, size, size, 3], pixel for pixel shapes.render_frame_torch.
    `textures`: None (flat colours) or (table uint8 [U, S, S, 3], ids int64 [B, N] rows of it) with sh["tex_origin"]
    [B, N, 2]: each covered pixel then reads its shape's texel as shapes.render_frame_torch does."""
    device = sh["centre"].device
    if size % TILE:
        raise BadInput(f"render size must be a multiple of {TILE}, got {size}")
    b, t, nsh = frames.shape[0], frames.shape[1], sh["kind"].shape[1]
    st = states(sh, frames.to(device))
    lo, hi, vis = dynamics.boxes({k: sh[k][:, None] for k in _BOX}, st)
    vis = vis.view(b * t, nsh)
    f32 = dict(dtype=torch.float32, device=device)
    g = lambda x: x.reshape(b * t, nsh, *x.shape[3:])                             # noqa: E731  [B*T, N, ...]
    ainv, off = g(torch.linalg.inv(st["A"])).to(**f32), g(st["centre"]).to(**f32)
    pivot, corners = sh["pivot"].to(**f32), sh["corners"].to(**f32)
    off = off + pivot.repeat_interleave(t, 0)
    r2 = (sh["radius"] ** 2).to(**f32)
    ax = torch.arange(size, **f32) * (256.0 / size)
    grid = torch.stack(torch.meshgrid(ax, ax, indexing="xy"), -1).view(-1, 2)
    top = torch.zeros(b * t * size * size, dtype=torch.int32, device=device)     # 1 + shape index, 0 = none
    is_circle = sh["kind"] == 0

    def test(pts, f_, k_):                             # inside-test of pts [P, Q, 2] for pairs (frame f_, shape k_)
        c_ = f_ // t
        return _inside(pts, ainv[f_, k_], off[f_, k_], pivot[c_, k_], is_circle[c_, k_], r2[c_, k_],
                       corners[c_, k_])
    fr, kk, tile = _pairs(lo.view(b * t, nsh, 2), hi.view(b * t, nsh, 2), vis, size)
    step = PAIRS.get(device.type, PAIRS["cpu"])
    keep = ~_hidden(fr, kk, tile, test, size, b * t, step)
    fr, kk, tile = fr[keep], kk[keep], tile[keep]
    for s in range(0, len(fr), step):                  # chunks of (tile, shape) pairs: bounded memory
        f_, k_, t_ = fr[s:s + step], kk[s:s + step], tile[s:s + step]
        flat = _TILE_OFFSETS(size, device)[None] + t_[:, None]
        ins = test(grid[flat], f_, k_)
        dst = (flat + f_[:, None] * size * size).reshape(-1)
        top.scatter_reduce_(0, dst, (ins * (k_[:, None] + 1)).reshape(-1).int(), "amax")
    top = top.view(b, t * size * size).long()
    colour = torch.cat([back.to(device, torch.uint8)[:, None], sh["colour"].to(torch.uint8)], 1)  # row 0 = back
    out = torch.gather(colour, 1, top[..., None].expand(-1, -1, 3))
    if textures is not None:
        origin = pivot + sh["tex_origin"].to(**f32)           # texture point = A^-1 (p - off) + pivot + origin
        out[top > 0] = _texels(top, textures, ainv, off, origin, grid, t, step * TILE * TILE)
    return out.view(b, t, size, size, 3)


def _texels(top, textures, ainv, off, origin, grid, t, chunk):
    """Texel floor((A^-1 (p - off) + pivot + origin) S / 512) of every covered pixel of top [B, T*size^2] (1 + shape
    index; 0 = none), in the row-major order of top > 0, chunk pixels at a time (PROTOCOLS §6)."""
    table, ids = textures
    s_px, px = table.shape[1], grid.shape[0]
    clip, pix = (top > 0).nonzero(as_tuple=True)
    out = torch.empty(len(clip), 3, dtype=torch.uint8, device=top.device)
    for s in range(0, len(clip), chunk):
        c_, p_ = clip[s:s + chunk], pix[s:s + chunk]
        k_, f_ = top[c_, p_] - 1, c_ * t + torch.div(p_, px, rounding_mode="floor")
        q = torch.einsum("pij,pj->pi", ainv[f_, k_], grid[p_ % px] - off[f_, k_]) + origin[c_, k_]
        uv = (q * (s_px / 512.0)).floor().long().clamp(0, s_px - 1)
        out[s:s + chunk] = table[ids[c_, k_], uv[:, 1], uv[:, 0]]
    return out
