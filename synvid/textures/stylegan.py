"""Untrained StyleGAN2 texture generator with randomised oriented filters (StyleGAN-Oriented, Baradad 2021):
the per-texture random draws and the public entry points.

TEXTURES.md §2: skip architecture 4..S, ReLU*sqrt(2), mapping bypassed (w = lrelu(z)), per-forward random
filter subsets / per-input-channel filters / output signs / biases, one shared pink noise map. `draw` takes
every random number of texture k from (seed, k) on CPU; `stylegan_net.synthesize` renders a batch of draws
on any device (exact rank-1 modulated conv, §2.4), `stylegan_noise` builds the noise maps. A texture is the
same alone or in a batch up to float rounding (at most one uint8 step). `variant="highfreq"` is
StyleGAN-High-freq (§2.5, Table 10). Dynamic textures (Section 5.2, Table 3) freeze every draw and walk
the latent: z_t = z_{t-1} + step * delta_t.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from synvid.errors import BadInput
from synvid.textures import stylegan_net
from synvid.textures.rng import torch_gen
from synvid.textures.stylegan_bank import highfreq_bank, oriented_bank
from synvid.textures.stylegan_noise import draw_pink

# §2.3: per-channel (mean, std) of the targets, fractions of 255 -> N(mu, sd^2) each.
_COLOUR = [((0.483, 0.145), (0.219, 0.063)), ((0.455, 0.142), (0.213, 0.062)), ((0.401, 0.161), (0.213, 0.069))]


def layout(size: int) -> list[tuple[int, int, bool]]:
    """Conv layers as (resolution, input channels, upsample?); channels = min(32768/res, 512) (§2.1)."""
    if size < 8 or size & (size - 1):
        raise BadInput(f"StyleGAN textures need a power-of-two size >= 8, got {size}")
    ch = lambda r: min(32768 // r, 512)  # noqa: E731
    layers, res = [(4, 512, False)], 8
    while res <= size:
        layers += [(res, ch(res // 2), True), (res, ch(res), False)]
        res *= 2
    return layers


def walk(z: torch.Tensor, seed: int, k: int, frames: int, step: float, at: int | None = None) -> list:
    """Latents of the walk z_t = z_{t-1} + step * delta_t (Section 5.2): frames 0..frames-1, or [z_at] only.

    The deltas come from their own (seed, k, "dynamic") stream, so frame 0 is the static texture k and z_at is
    reached by drawing and summing `at` deltas, in the same order as the full walk (bit-identical latents).
    """
    zs, g = [z], torch_gen(seed, k, "dynamic")
    for _ in range(frames - 1 if at is None else at):
        zs.append(zs[-1] + step * torch.randn(z.shape, generator=g))
        if at is not None:
            zs = zs[-1:]
    return zs


def _styles(eps: torch.Tensor, ws: torch.Tensor, frame_ids: list[int], w0: torch.Tensor, perp) -> torch.Tensor:
    """Styles s = 1 + A w / sqrt(512) of every frame [T, rows] (§2.1), A ~ N(0, 1) [rows, 512] per texture.

    A is never drawn for a static texture: its rows are i.i.d. Gaussian, so A w0 ~ |w0| eps, eps ~ N(0, I),
    exactly (rows x 512 normals become rows). A walk (frames t > 0) needs A itself, built with the same
    eps: A = eps u^T + A_perp (I - u u^T), u = w0 / |w0|, A_perp ~ N(0, 1) (`perp()`, its own stream); this A
    is again i.i.d. N(0, 1) and gives A w0 = |w0| eps, so frame 0 is the static texture. One product per
    frame, so a frame's styles are the same bits whether drawn alone (dynamic_at) or in a video (dynamic_video).
    """
    norm0 = w0.norm()
    u, a_perp, out = w0 / norm0, None, []
    for t, w in zip(frame_ids, ws):
        if t == 0:
            out.append(1 + eps * norm0 / math.sqrt(512))
            continue
        a_perp = perp() if a_perp is None else a_perp
        proj = u @ w
        out.append(1 + (eps * proj + a_perp @ (w - u * proj)) / math.sqrt(512))
    return torch.stack(out)


def draw(seed: int, k: int, size: int, variant: str = "oriented", frames: int = 1, step: float = 0.1,
         at: int | None = None) -> dict:
    """Every random quantity of texture k (CPU, from (seed, k) only); `frames` > 1 gives a latent random walk
    (dynamic textures), `at` only its frame `at` (one frame, index 0 of the result)."""
    if at is not None and at < 0:
        raise BadInput(f"dynamic texture frame index must be >= 0, got {at}")
    g = torch_gen(seed, k, "stylegan" if variant == "oriented" else "stylegan_highfreq")
    lay = layout(size)
    z0 = torch.randn(len(lay) + 1, 512, generator=g)
    frame_ids = list(range(frames)) if at is None else [at]
    ws = torch.stack([F.leaky_relu(z, 0.2) for z in walk(z0, seed, k, frames, step, at)])     # [T, 14, 512]
    w0 = F.leaky_relu(z0, 0.2)
    affine = torch_gen(seed, k, "dynamic_affine")        # A_perp of walks, in layer order, only when needed

    def styles(li: int, rows: int) -> torch.Tensor:
        return _styles(torch.randn(rows, generator=g), ws[:, li], frame_ids, w0[li],
                       lambda: torch.randn(rows, 512, generator=affine))
    bank = oriented_bank() if variant == "oriented" else highfreq_bank()
    d = {"const": torch.randn(1, 512, 4, 4, generator=g), "layers": [], "rgb": [], "bank": bank, "layout": lay,
         "pink": draw_pink(2 * size, g) if variant == "oriented" else None}
    li = 0
    for j, (res, cin, up) in enumerate(lay):
        cout = min(32768 // res, 512)
        layer = {"styles": styles(li, cin), "up": up}
        if variant == "oriented":
            nsub = int(torch.randint(5, 41, (), generator=g))
            subset = torch.randperm(40, generator=g)[:nsub]
            layer["pick"] = subset[torch.randint(0, nsub, (cin,), generator=g)]
            layer["bias"] = torch.rand(cout, generator=g) * 0.4 - 0.2
        else:
            layer["pick"] = torch.randint(0, 40, (cin,), generator=g)
            layer["bias"] = torch.zeros(cout)
            layer["pink"] = draw_pink(res, g, envelope=False)
        layer["sign"] = torch.where(torch.rand(cout, generator=g) < 0.5, -1.0, 1.0)
        layer["strength"] = torch.rand((), generator=g) * 0.3
        d["layers"].append(layer)
        li += 1
        if j == 0 or not up:        # a block ends after its last conv: ToRGB uses the next latent
            rgb_w = torch.randn(3, cout, generator=g)
            d["rgb"].append((rgb_w, styles(li, cout) / math.sqrt(cout)))
    d["colour"] = [(mu + s_mu * torch.randn((), generator=g), sd + s_sd * torch.randn((), generator=g))
                   for (mu, s_mu), (sd, s_sd) in _COLOUR]
    return d


def default_batch(device) -> int:
    """Textures per synthesis call. CPU: 1, measured fastest (larger batches leave the cache, docs/textures.md);
    CUDA: 32 (our choice, not measured: no GPU here)."""
    return 32 if str(device).startswith("cuda") else 1


def _render(draws: list[dict], frames: list[int], device, batch: int) -> torch.Tensor:
    """uint8 [K, S, S, 3] of frame frames[i] of draws[i], synthesised `batch` at a time."""
    out = []
    for i in range(0, len(draws), batch):
        chunk = draws[i:i + batch]
        out.append(stylegan_net.to_uint8(stylegan_net.synthesize(chunk, frames[i:i + batch], device), chunk))
    return torch.cat(out)


def generate(ids, *, seed: int = 0, size: int = 256, device="cpu", variant: str = "oriented",
             batch: int | None = None) -> torch.Tensor:
    """StyleGAN-Oriented (or High-freq) textures for ids -> uint8 [K, size, size, 3], `batch` per forward.
    Texture k does not depend on the batch up to float rounding: at most 1 uint8 step (tested)."""
    ids, batch = [int(k) for k in ids], batch or default_batch(device)
    out = [_render([draw(seed, k, size, variant) for k in ids[i:i + batch]], [0] * batch, device, batch)
           for i in range(0, len(ids), batch)]       # drawn per chunk: a 256^2 draw holds about 1.5 MB
    return torch.cat(out) if out else torch.empty(0, size, size, 3, dtype=torch.uint8)


def dynamic_video(ids, frames: int, *, seed: int = 0, size: int = 256, device="cpu", step: float = 0.1,
                  variant: str = "oriented", batch: int | None = None) -> torch.Tensor:
    """Dynamic textures as whole videos uint8 [K, frames, S, S, 3] (all draws frozen, latent random walk): the
    definition `dynamic_at`, which the renderer uses, is tested against; frame t of all ids is rendered in the same
    chunks as dynamic_at(ids, t)."""
    ds = [draw(seed, int(k), size, variant, frames=frames, step=step) for k in ids]
    batch = batch or default_batch(device)
    if not ds:
        return torch.empty(0, frames, size, size, 3, dtype=torch.uint8)
    return torch.stack([_render(ds, [t] * len(ds), device, batch) for t in range(frames)], 1)


def dynamic_at(ids, t, *, seed: int = 0, size: int = 256, device="cpu", step: float = 0.1,
               variant: str = "oriented", batch: int | None = None) -> torch.Tensor:
    """Frame t (an int, or one per id) of each id's dynamic texture, without rendering earlier frames."""
    ids = [int(k) for k in ids]
    ts = [int(t)] * len(ids) if isinstance(t, int) or torch.as_tensor(t).ndim == 0 else \
        [int(x) for x in torch.as_tensor(t).tolist()]
    if len(ts) != len(ids):
        raise BadInput(f"get_at: {len(ts)} frame indices for {len(ids)} ids (give one int or one per id)")
    if not ids:
        return torch.empty(0, size, size, 3, dtype=torch.uint8)
    ds = [draw(seed, k, size, variant, step=step, at=tk) for k, tk in zip(ids, ts)]
    return _render(ds, [0] * len(ds), device, batch or default_batch(device))
