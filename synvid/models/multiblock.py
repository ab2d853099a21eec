"""V-JEPA multi-block 3-D masks (Bardes et al. 2024; official `facebookresearch/jepa` src/masks/multiblock3d.py).

A mask kind is a number of blocks of one spatial scale. For each per-rank batch and each kind, one block size
(t, h, w) is drawn, then every clip places `num_blocks` blocks of that size at uniformly random positions; the
union of the blocks is the *target* (predicted) set and its complement the *context* set. With temporal scale 1 the
blocks span the whole clip in time. As the official collator, the index lists are cut to the shortest one in the
batch (ascending token order, so the cut drops the last indices) to make them stackable.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synvid.errors import BadInput


@dataclass(frozen=True)
class MaskKind:
    """One official mask config entry (configs/pretrain/vitl16.yaml `mask:`)."""
    num_blocks: int
    spatial_scale: float
    aspect_min: float = 0.75
    aspect_max: float = 1.5
    temporal_scale: float = 1.0


def _uniform(lo: float, hi: float, g: torch.Generator) -> float:
    return lo + torch.rand(1, generator=g).item() * (hi - lo)


def block_size(window: tuple[int, int, int], kind: MaskKind, g: torch.Generator) -> tuple[int, int, int]:
    """multiblock3d.py `_sample_block_size`: three uniforms drawn in the official order (time, scale, aspect);
    h = round(sqrt(keep * ar)), w = round(sqrt(keep / ar)), keep = int(H*W*scale), both capped at the window.

    Two guards of ours act on tiny windows only (smoke runs; at 14x14 neither ever applies, see the tests):
    h, w >= 1 (int(H*W*scale) = 0 otherwise gives an empty target), and a block never covers the whole frame
    (the official resampling loop would never end)."""
    t_win, h_win, w_win = window
    t = max(1, int(t_win * _uniform(kind.temporal_scale, kind.temporal_scale, g)))
    keep = int(h_win * w_win * _uniform(kind.spatial_scale, kind.spatial_scale, g))
    ar = _uniform(kind.aspect_min, kind.aspect_max, g)
    h = min(max(1, int(round(math.sqrt(keep * ar)))), h_win)
    w = min(max(1, int(round(math.sqrt(keep / ar)))), w_win)
    if h == h_win and w == w_win:
        w = w_win - 1 if w_win > 1 else w
        if w == w_win:
            raise BadInput(f"window {window} is too small for multi-block masks (1x1 frame)")
    return t, h, w


def block_union(window: tuple[int, int, int], size: tuple[int, int, int], num_blocks: int, batch: int,
                g: torch.Generator, device=None) -> torch.Tensor:
    """Bool [B, T'*H'*W'] (token order t, h, w), True = inside one of `num_blocks` randomly placed blocks per clip.
    Positions uniform over the valid placements as multiblock3d.py `_sample_block_mask` (top, left, start);
    drawn for the whole batch at once (the official draws one block at a time: same distribution, other order).
    The draws come from the CPU generator `g`; the masks are built on `device`."""
    (t_win, h_win, w_win), (t, h, w) = window, size

    def spans(length: int, extent: int) -> torch.Tensor:  # [B, blocks, length]: inside a random [lo, lo+extent)
        lo = torch.randint(0, length - extent + 1, (batch, num_blocks, 1), generator=g).to(device)
        pos = torch.arange(length, device=device)
        return (pos >= lo) & (pos < lo + extent)

    rows, cols, times = spans(h_win, h), spans(w_win, w), spans(t_win, t)
    inside = times[..., :, None, None] & rows[..., None, :, None] & cols[..., None, None, :]
    return inside.any(dim=1).flatten(1)


def first_indices(mask: torch.Tensor, keep: int) -> torch.Tensor:
    """int64 [B, keep]: the first `keep` True positions of each row of bool [B, N], ascending."""
    first = mask & (mask.cumsum(dim=1) <= keep)
    return torch.nonzero(first)[:, 1].reshape(mask.shape[0], keep)  # row-major: ascending within each row


def sample_masks(batch: int, window: tuple[int, int, int], kinds: tuple[MaskKind, ...], g: torch.Generator,
                 device=None, max_tries: int = 1000) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One (context, target) pair of index tensors [B, K_ctx] / [B, K_tgt] (int64, ascending) per mask kind.

    A clip whose blocks leave no context is redrawn (official `while empty_context`); both lists are then cut to
    the batch minimum (official `min_keep_enc` / `min_keep_pred`)."""
    out = []
    for kind in kinds:
        size = block_size(window, kind, g)
        target = block_union(window, size, kind.num_blocks, batch, g, device)
        for _ in range(max_tries):
            full = target.all(dim=1)
            if not full.any():
                break
            target[full] = block_union(window, size, kind.num_blocks, int(full.sum()), g, device)
        else:
            raise RuntimeError(f"no context left after {max_tries} draws of {kind} on window {window}")
        counts = target.sum(dim=1)
        n = target.shape[1]
        out.append((first_indices(~target, int(n - counts.max())), first_indices(target, int(counts.min()))))
    return out
