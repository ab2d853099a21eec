"""Rasteriser entry point: per-pixel top-most shape by index (z = placement order), then colour or texture."""
import numpy as np
import torch

from synvid.errors import BadInput
from synvid.render import dynamics
from synvid.render.raster_cpu import render_frame_cpu

TILE = 16     # canvas tiles: a shape is tested only on the tiles its bounding box meets
PAIRS = 1024  # (tile, shape) pairs per batch (bounds memory at PAIRS * TILE^2)


def _TILE_OFFSETS(size, device):
    ar = torch.arange(TILE, device=device)
    return (ar[:, None] * size + ar[None]).reshape(-1)


def _tile_pairs(lo, hi, size):
    """(first pixel id of tile, shape position) for every tile a shape's box lo, hi [K, 2] meets."""
    scale = size / 256.0 / TILE
    n = size // TILE
    t0 = np.clip(np.floor(lo * scale), 0, n - 1).astype(np.int64)
    t1 = np.clip(np.floor(hi * scale), 0, n - 1).astype(np.int64)
    tiles, shapes_ = [], []
    for k in range(len(lo)):             # cheap numpy bookkeeping; the pixel work stays vectorised
        ys, xs = np.meshgrid(np.arange(t0[k, 1], t1[k, 1] + 1), np.arange(t0[k, 0], t1[k, 0] + 1), indexing="ij")
        tiles.append((ys * TILE * size + xs * TILE).ravel())
        shapes_.append(np.full(ys.size, k))
    return np.concatenate(tiles), np.concatenate(shapes_)


def _inside(pts, ainv, off, pivot, is_circle, r2, corners):
    """Inside-test of canvas points pts [B, P, 2] for B shapes: circles by local distance, convex
    polygons by half-planes n.q + b >= 0 folded through the affine into canvas coordinates."""
    m = ainv.transpose(1, 2)                                            # q = pts @ m + shift
    shift = pivot - torch.einsum("bij,bj->bi", ainv, off)
    e = corners.roll(-1, 1) - corners                                   # [B, 4, 2] edges
    n = torch.stack([-e[..., 1], e[..., 0]], -1)                        # inward normals (CCW corners)
    bias = -(n * corners).sum(-1)                                       # [B, 4]
    w = torch.bmm(m, n.transpose(1, 2))                                 # [B, 2, 4]
    bb = bias + torch.einsum("bi,bki->bk", shift, n)
    poly = (torch.baddbmm(bb[:, None], pts, w) >= 0).all(-1)
    q = torch.baddbmm(shift[:, None], pts, m)
    circ = q.pow(2).sum(-1) <= r2[:, None]
    return torch.where(is_circle[:, None], circ, poly)


def render_frame(sh: dict, st: dict, size: int, device, textures=None, tex_ids=None,
                 background=None) -> torch.Tensor:
    """One frame uint8 [size, size, 3]; geometry lives on the authors' 256-px canvas, sampled at size px.
    `background`: None (black) or uint8 [size, size, 3] shown where no shape covers a pixel.
    CPU: the numba scanline rasteriser (raster_cpu); other devices: the vectorised torch tile path."""
    if torch.device(device if device is not None else "cpu").type == "cpu":
        return torch.from_numpy(render_frame_cpu(sh, st, size, textures, tex_ids, background))
    return render_frame_torch(sh, st, size, device, textures, tex_ids, background)


def render_frame_torch(sh: dict, st: dict, size: int, device, textures=None, tex_ids=None,
                       background=None) -> torch.Tensor:
    """render_frame by tiles of vectorised inside-tests (any device; the reference the other paths match)."""
    if size % TILE:
        raise BadInput(f"render size must be a multiple of {TILE}, got {size}")
    lo, hi, vis = dynamics.boxes(sh, st)
    idx = np.nonzero(vis)[0]
    if background is None:
        out = torch.zeros(size * size, 3, dtype=torch.uint8, device=device)
    else:
        out = background.to(device=device, dtype=torch.uint8).reshape(size * size, 3).clone()
    if len(idx) == 0:
        return out.view(size, size, 3)
    f32 = dict(dtype=torch.float32, device=device)
    ainv = torch.as_tensor(np.linalg.inv(st["A"][idx]), **f32)
    pivot = torch.as_tensor(sh["pivot"][idx], **f32)
    off = torch.as_tensor(st["centre"][idx], **f32) + pivot
    corners = torch.as_tensor(sh["corners"][idx], **f32)
    is_circle = torch.as_tensor(sh["kind"][idx] == 0, device=device)
    r2 = torch.as_tensor(sh["radius"][idx] ** 2, **f32)
    ax = torch.arange(size, **f32) * (256.0 / size)
    grid = torch.stack(torch.meshgrid(ax, ax, indexing="xy"), -1).view(-1, 2)   # (x, y) per pixel
    top = torch.zeros(size * size, dtype=torch.int64, device=device)            # 0 = background
    tile, pix = _tile_pairs(lo[idx], hi[idx], size)
    for s in range(0, len(tile), PAIRS):                  # only (tile, shape) pairs whose boxes meet
        t_, k_ = (torch.as_tensor(a[s:s + PAIRS], device=device) for a in (tile, pix))
        flat = _TILE_OFFSETS(size, device)[None] + t_[:, None]                 # [B, T*T] pixel ids
        ins = _inside(grid[flat], ainv[k_], off[k_], pivot[k_], is_circle[k_], r2[k_], corners[k_])
        top.scatter_reduce_(0, flat.reshape(-1), (ins * (k_[:, None] + 1)).reshape(-1), "amax")
    hit = top > 0
    k = top[hit] - 1
    if textures is None:
        out[hit] = torch.as_tensor(sh["colour"][idx], dtype=torch.uint8, device=device)[k]
        return out.view(size, size, 3)
    # Texture resized to 512^2 (nearest) and moving with the shape: local q + origin -> texel (PROTOCOLS §6)
    origin = torch.as_tensor(sh["tex_origin"][idx], **f32)
    q = torch.einsum("pij,pj->pi", ainv[k], grid[hit] - off[k]) + pivot[k] + origin[k]
    tex = textures.get(torch.as_tensor(tex_ids[idx], dtype=torch.int64), device)
    s_px = tex.shape[1]
    uv = (q * (s_px / 512.0)).floor().long().clamp(0, s_px - 1)
    out[hit] = tex[k, uv[:, 1], uv[:, 0]]
    return out.view(size, size, 3)
