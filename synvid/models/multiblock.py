"""V-JEPA multi-block 3-D masks (Bardes et al. 2024; official `facebookresearch/jepa` src/masks/multiblock3d.py).

A mask kind is a number of blocks of one spatial scale. For each step and each kind, one block size (t, h, w) is
drawn, then every clip places `num_blocks` blocks of that size at uniformly random positions; the union of the
blocks is the *target* (predicted) set and its complement the *context* set. With temporal scale 1 the blocks span
the whole clip in time. As the official collator, the index lists of a group of clips are cut to the shortest one
in the group (ascending token order, so the cut drops the last indices) to make them stackable. The official group
is one GPU's batch (24 clips); here a step's global batch is split into groups of `group` consecutive clips
(`sample_masks`), each drawn from its own generator, so every clip's masks are the same whatever the number of
processes the batch is split across.
"""
from __future__ import annotations

import math
from collections.abc import Callable
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


def target_unions(window: tuple[int, int, int], kind: MaskKind, size: tuple[int, int, int], batch: int,
                  g: torch.Generator, device=None, max_tries: int = 1000) -> torch.Tensor:
    """Bool [B, N] target sets of `batch` clips for one block size; a clip whose blocks leave no context is redrawn
    (official `while empty_context`)."""
    target = block_union(window, size, kind.num_blocks, batch, g, device)
    for _ in range(max_tries):
        full = target.all(dim=1)
        if not full.any():
            return target
        target[full] = block_union(window, size, kind.num_blocks, int(full.sum()), g, device)
    raise RuntimeError(f"no context left after {max_tries} draws of {kind} on window {window}")


def cut_to_minimum(target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bool [B, N] target sets -> (context [B, K_ctx], target [B, K_tgt]) int64 ascending index lists, each cut to
    its shortest row (official `min_keep_enc` / `min_keep_pred`)."""
    counts = target.sum(dim=1)
    return (first_indices(~target, int(target.shape[1] - counts.max())),
            first_indices(target, int(counts.min())))


def sample_masks(window: tuple[int, int, int], kinds: tuple[MaskKind, ...],
                 generator: Callable[[int], torch.Generator], *, total: int, group: int | None = None,
                 start: int = 0, stop: int | None = None, device=None,
                 max_tries: int = 1000) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    """The masks of positions [start, stop) (default: all) of a step's global batch of `total` clips, split into
    consecutive groups of `group` clips (default: one group; the last group may be smaller), each group's index
    lists cut to the group's own minimum (one group = one official collator call).

    `generator(0)` draws the step's block size of each kind, shared by every group (the official collators seed it
    with their batch counter, equal on every GPU); `generator(1 + i)` draws the blocks of group i, so a group
    straddling two ranks is drawn whole by both and each keeps its own clips. Returns masks[kind][j] = (context
    [n_j, K_ctx], target [n_j, K_tgt]), int64 ascending, for the j-th group overlapping [start, stop), n_j its clips
    in the range."""
    group, stop = total if group is None else group, total if stop is None else stop
    if group < 1 or not 0 <= start < stop <= total:
        raise BadInput(f"need group >= 1 and 0 <= start < stop <= total, got group {group}, start {start}, "
                       f"stop {stop}, total {total}")
    g = generator(0)
    sizes = [block_size(window, kind, g) for kind in kinds]
    out: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in kinds]
    for i in range(start // group, (stop - 1) // group + 1):
        lo, hi = i * group, min((i + 1) * group, total)
        g = generator(1 + i)
        keep = slice(max(start, lo) - lo, min(stop, hi) - lo)
        for masks, kind, size in zip(out, kinds, sizes):
            ctx, tgt = cut_to_minimum(target_unions(window, kind, size, hi - lo, g, device, max_tries))
            masks.append((ctx[keep], tgt[keep]))
    return out
