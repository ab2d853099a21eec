"""CPU scanline rasteriser (numba): the pixel semantics of shapes.render_frame_torch, one span per shape row.

Pixel (x, y) samples the canvas point (x, y) * 256 / size; shapes are painted back to front in index order
(z = placement order, PROTOCOLS §6), so the top-most covering shape wins. Per shape and row the covered
x-interval is solved in closed form: a quadratic for circles (|A^-1 (p - off) + pivot|^2 <= r^2), the
intersection of four half-plane intervals for convex polygons. Only pixels exactly on a boundary can differ
from the float32 torch path (this one works in float64). cache=True: DataLoader workers load, not compile.
"""
import math

import numpy as np
import torch
from numba import njit

CANVAS = 256.0   # geometry lives on the authors' 256-px canvas


@njit(cache=True)
def _box_meets(i, kind, radius, corners, pivot, centre, a):
    """dynamics.boxes for one shape (its numba twin): the box meets [0, 256)^2; also its world y-range."""
    if kind[i] == 0:
        lx, ly, hx, hy = -radius[i], -radius[i], radius[i], radius[i]
    else:
        lx, ly = corners[i, :, 0].min(), corners[i, :, 1].min()
        hx, hy = corners[i, :, 0].max(), corners[i, :, 1].max()
    bx = (lx, hx, hx, lx)
    by = (ly, ly, hy, hy)
    wlo = np.full(2, np.inf)
    whi = np.full(2, -np.inf)
    for k in range(4):
        dx, dy = bx[k] - pivot[i, 0], by[k] - pivot[i, 1]
        for j in range(2):
            w = a[i, j, 0] * dx + a[i, j, 1] * dy + centre[i, j] + pivot[i, j]
            wlo[j] = min(wlo[j], w)
            whi[j] = max(whi[j], w)
    meets = whi[0] >= 0 and whi[1] >= 0 and wlo[0] < CANVAS and wlo[1] < CANVAS
    return meets, wlo[1], whi[1]


@njit(cache=True)
def visible(kind, radius, corners, pivot, centre, a, alive):
    """Indices of the shapes dynamics.boxes marks drawn (alive, box meets the canvas)."""
    out = np.empty(len(kind), np.int64)
    n = 0
    for i in range(len(kind)):
        if alive[i] and _box_meets(i, kind, radius, corners, pivot, centre, a)[0]:
            out[n] = i
            n += 1
    return out[:n]


@njit(cache=True)
def _edges(c):
    """Half-planes n.q + b >= 0 of convex CCW corners c [4, 2] (a repeated triangle corner gives n = 0)."""
    nrm = np.empty((4, 2))
    bias = np.empty(4)
    for k in range(4):
        ex, ey = c[(k + 1) % 4, 0] - c[k, 0], c[(k + 1) % 4, 1] - c[k, 1]
        nrm[k, 0], nrm[k, 1] = -ey, ex
        bias[k] = -(nrm[k, 0] * c[k, 0] + nrm[k, 1] * c[k, 1])
    return nrm, bias


@njit(cache=True)
def _span(is_circle, r2, nrm, bias, ux, uy, vx, vy, size):
    """Covered pixel columns [x0, x1] of one row, where the local point is q(x) = x u + v."""
    lo, hi = 0.0, size - 1.0
    if is_circle:
        qa = ux * ux + uy * uy
        qb = ux * vx + uy * vy
        disc = qb * qb - qa * (vx * vx + vy * vy - r2)
        if disc < 0:
            return 1, 0
        sq = math.sqrt(disc)
        lo, hi = max(lo, (-qb - sq) / qa), min(hi, (-qb + sq) / qa)
    else:
        for k in range(4):
            al = nrm[k, 0] * ux + nrm[k, 1] * uy
            be = nrm[k, 0] * vx + nrm[k, 1] * vy + bias[k]
            if al > 0:
                lo = max(lo, -be / al)
            elif al < 0:
                hi = min(hi, -be / al)
            elif be < 0:
                return 1, 0
    if lo > hi:
        return 1, 0
    return int(math.ceil(lo)), int(math.floor(hi))


@njit(cache=True)
def raster(out, idx, kind, radius, corners, pivot, centre, a, colour, tex, tex_row, tex_origin):
    """Paint shapes idx (ascending = back to front) into out uint8 [size, size, 3] in place.
    tex: uint8 [M, S, S, 3] textures, visible shape k reads tex[tex_row[k]]; [0, 1, 1, 3] for flat colours;
    tex_origin [N, 2]: texel of the local origin (dynamics.texture_origin), folded into the texel map only.
    Spans fill a label map first (one int32 store per pixel and shape), then each pixel is coloured once."""
    size = out.shape[0]
    s = CANVAS / size
    label = np.zeros((size, size), np.int32)          # 1 + position in idx of the top-most shape; 0 = none
    inv = np.zeros((len(idx), 6))                     # texture point q + origin, from pixel (x, y) (pixel units)
    for k in range(len(idx)):
        i = idx[k]
        det = a[i, 0, 0] * a[i, 1, 1] - a[i, 0, 1] * a[i, 1, 0]
        if det == 0.0 or not math.isfinite(det):
            continue                      # zero-area shape: covers no pixel
        m00, m01, m10, m11 = a[i, 1, 1] / det, -a[i, 0, 1] / det, -a[i, 1, 0] / det, a[i, 0, 0] / det
        ox, oy = centre[i, 0] + pivot[i, 0], centre[i, 1] + pivot[i, 1]
        c0, c1 = -(m00 * ox + m01 * oy) + pivot[i, 0], -(m10 * ox + m11 * oy) + pivot[i, 1]
        inv[k, 0], inv[k, 1], inv[k, 2], inv[k, 3] = m00 * s, m01 * s, m10 * s, m11 * s
        inv[k, 4], inv[k, 5] = c0 + tex_origin[i, 0], c1 + tex_origin[i, 1]
        nrm, bias = _edges(corners[i])
        _, wlo, whi = _box_meets(i, kind, radius, corners, pivot, centre, a)
        y0, y1 = max(0, int(math.floor(wlo / s))), min(size - 1, int(math.ceil(whi / s)))
        for y in range(y0, y1 + 1):       # q at (0, y), then q(x) = x (m00, m10) s + that
            vx, vy = inv[k, 1] * y + c0, inv[k, 3] * y + c1
            x0, x1 = _span(kind[i] == 0, radius[i] ** 2, nrm, bias, inv[k, 0], inv[k, 2], vx, vy, size)
            label[y, x0:x1 + 1] = k + 1
    _colour(out, label, idx, inv, colour, tex, tex_row)
    return out


@njit(cache=True)
def _colour(out, label, idx, inv, colour, tex, tex_row):
    """Each covered pixel takes its shape's colour, or texel floor((q + origin) * S / 512) of its texture, the
    offline generator's warpAffine of the texture resized to 512^2 (nearest), sampled nearest (PROTOCOLS §6)."""
    s_px = tex.shape[1]
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            k = label[y, x] - 1
            if k < 0:
                continue
            if len(tex) == 0:
                i = idx[k]
                out[y, x, 0], out[y, x, 1], out[y, x, 2] = colour[i, 0], colour[i, 1], colour[i, 2]
            else:
                qx = inv[k, 0] * x + inv[k, 1] * y + inv[k, 4]
                qy = inv[k, 2] * x + inv[k, 3] * y + inv[k, 5]
                tx = min(max(int(math.floor(qx * (s_px / 512.0))), 0), s_px - 1)
                ty = min(max(int(math.floor(qy * (s_px / 512.0))), 0), s_px - 1)
                r = tex_row[k]
                out[y, x, 0], out[y, x, 1], out[y, x, 2] = tex[r, ty, tx, 0], tex[r, ty, tx, 1], tex[r, ty, tx, 2]


_NO_TEX = np.zeros((0, 1, 1, 3), np.uint8)


def render_frame_cpu(sh: dict, st: dict, size: int, textures=None, tex_ids=None, background=None):
    """numpy/numba twin of shapes.render_frame_torch on the CPU -> uint8 numpy [size, size, 3]."""
    geo = (sh["kind"], sh["radius"], sh["corners"], sh["pivot"], st["centre"], st["A"])
    idx = visible(*geo, st["alive"])
    out = np.zeros((size, size, 3), np.uint8) if background is None else \
        np.array(background.cpu().numpy(), dtype=np.uint8, copy=True)
    tex, rows = _NO_TEX, np.arange(len(idx))
    if textures is not None and len(idx):
        ids = np.asarray(tex_ids)[idx]
        if hasattr(textures, "rows"):       # a per-video table (render.video.PerVideo): no copy per frame
            tex, rows = textures.rows(ids)
        else:
            tex = np.ascontiguousarray(textures.get(torch.as_tensor(ids, dtype=torch.int64), "cpu").numpy())
    colour = np.ascontiguousarray(sh["colour"], dtype=np.uint8)
    return raster(out, idx, *geo, colour, tex, rows, np.ascontiguousarray(sh["tex_origin"], dtype=np.float64))
