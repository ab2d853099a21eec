"""V-JEPA multi-block masks against the official sampler (facebookresearch/jepa src/masks/multiblock3d.py): block
sizes, masked and kept fractions, the cut per group of clips, and the same masks on any number of processes."""
import math
from collections import Counter

import numpy as np
import pytest
import torch

from synvid.config import PretrainConfig, VjepaConfig, resolve
from synvid.engine.objectives import VJEPA
from synvid.errors import BadInput
from synvid.models import multiblock
from synvid.models.multiblock import MaskKind, block_size, sample_masks

WINDOW = (8, 14, 14)  # 16 x 224^2 clip, tubelet 2, patch 16
N = 8 * 14 * 14
SHORT, LONG = MaskKind(8, 0.15), MaskKind(2, 0.7)

# Figures from running the official sampler, facebookresearch/jepa @ 51c59d5 src/masks/multiblock3d.py
# (`_MaskGenerator(crop_size=(224, 224), num_frames=16, spatial_patch_size=16, temporal_patch_size=2,
# temporal_pred_mask_scale=(1, 1), aspect_ratio=(0.75, 1.5), ...)`, torch 2.x on CPU, torch.manual_seed(0)):
# block sizes of 2,000 `_sample_block_size` draws (generator seeds 0..1999); union fraction of 2,000 calls with
# batch 1 (no truncation); fraction of indices kept after the batch-minimum cut over 400 calls with batch 8, and
# over 1,600 calls with batch 24 (the official per-GPU batch; one generator, torch 2.14, standard error <= 0.001)
# and 200 calls with batch 256 (standard error 0.0025).
OFFICIAL = {
    "short": {"sizes": {(8, 5, 5): 236, (8, 5, 6): 579, (8, 6, 4): 67, (8, 6, 5): 992, (8, 7, 4): 126},
              "aspect_mean": 1.1149, "union_mean": 0.6268, "union_sd": 0.0771,
              "kept_target_b8": 0.5185, "kept_context_b8": 0.2710,
              "kept_target_b24": 0.4783, "kept_context_b24": 0.2339, "kept_context_b256": 0.1822},
    "long": {"sizes": {(8, 10, 13): 128, (8, 10, 14): 4, (8, 11, 12): 266, (8, 11, 13): 200, (8, 12, 11): 260,
                       (8, 12, 12): 201, (8, 13, 10): 223, (8, 13, 11): 262, (8, 14, 10): 456},
             "aspect_mean": 1.1185, "union_mean": 0.8113, "union_sd": 0.0720,
             "kept_target_b8": 0.7182, "kept_context_b8": 0.0918,
             "kept_target_b24": 0.7040, "kept_context_b24": 0.0641, "kept_context_b256": 0.0533},
}


def draws(seed: int):
    """sample_masks' generator factory: key k -> a torch.Generator seeded from (seed, k)."""
    return lambda key: torch.Generator().manual_seed(seed * 1_000_003 + key)


def one_group(batch: int, window, kinds, seed: int = 0):
    """The masks of one official collator call of `batch` clips: masks[kind][0] = (context, target)."""
    return sample_masks(window, kinds, draws(seed), total=batch)


@pytest.mark.parametrize("name,kind", [("short", SHORT), ("long", LONG)])
def test_block_sizes_match_the_official_sampler(name, kind):
    g = torch.Generator().manual_seed(0)
    sizes = Counter(block_size(WINDOW, kind, g) for _ in range(2000))
    official = OFFICIAL[name]["sizes"]
    assert set(sizes) <= set(official)  # same formula -> only sizes the official sampler produces
    for size, count in official.items():
        assert abs(sizes[size] / 2000 - count / 2000) < 0.035, size
    aspect = np.mean([h / w for s, c in sizes.items() for h, w in [s[1:]] * c])
    assert abs(aspect - OFFICIAL[name]["aspect_mean"]) < 0.02


@pytest.mark.parametrize("name,kind", [("short", SHORT), ("long", LONG)])
def test_masked_fractions_match_the_official_sampler(name, kind):
    ref = OFFICIAL[name]
    union = [one_group(1, WINDOW, (kind,), seed)[0][0][1].shape[1] / N for seed in range(300)]
    assert abs(np.mean(union) - ref["union_mean"]) < 4 * ref["union_sd"] / math.sqrt(300) + 0.005
    assert abs(np.std(union) - ref["union_sd"]) < 0.015
    kept = [one_group(8, WINDOW, (kind,), 1000 + seed)[0][0] for seed in range(60)]
    assert abs(np.mean([t.shape[1] for _, t in kept]) / N - ref["kept_target_b8"]) < 0.025
    assert abs(np.mean([c.shape[1] for c, _ in kept]) / N - ref["kept_context_b8"]) < 0.025
    ctx, tgt = kept[0]
    assert ctx.shape[0] == tgt.shape[0] == 8 and torch.all(ctx[:, 1:] > ctx[:, :-1])  # ascending, no repeats
    for c, t in zip(ctx, tgt):
        assert not set(c.tolist()) & set(t.tolist())  # context and target never overlap


def test_blocks_span_the_clip_in_time_and_tiny_windows_still_work():
    (_, tgt), = one_group(1, WINDOW, (LONG,))[0]
    target = torch.zeros(N, dtype=torch.bool)
    target[tgt[0]] = True
    target = target.reshape(WINDOW)
    assert torch.equal(target, target[:1].expand_as(target))  # temporal scale 1: the same spatial set every slot
    for seed in range(50):  # smoke window (4 frames, 32 px): 2x2 per slot, both kinds keep context and target
        for (ctx, tgt), in one_group(4, (2, 2, 2), (SHORT, LONG), seed):
            assert ctx.shape[1] >= 1 and tgt.shape[1] >= 1


def per_clip(masks):
    """masks[kind][group] -> [kind][clip] (context row, target row) as lists."""
    return [[(c.tolist(), t.tolist()) for ctx, tgt in groups for c, t in zip(ctx, tgt)] for groups in masks]


@pytest.mark.parametrize("total,group", [(64, 24), (12, 5)])
def test_each_group_is_cut_to_its_own_minimum_whatever_the_split_across_ranks(monkeypatch, total, group):
    """Groups of `group` consecutive clips of the global batch (the last one smaller), each cut to the shortest
    lists of its own clips; a rank holding part of a group keeps exactly its clips' rows of the whole group."""
    drawn = []

    def recording(*args, **kwargs):
        drawn.append(real(*args, **kwargs))
        return drawn[-1]
    real = multiblock.target_unions
    monkeypatch.setattr(multiblock, "target_unions", recording)
    whole = None
    for world in (1, 2, 4, 8) if total % 8 == 0 else (1, 2, 3, 4):
        b, rows = total // world, [[], []]
        for rank in range(world):
            drawn.clear()
            masks = sample_masks(WINDOW, (SHORT, LONG), draws(7), total=total, group=group, start=rank * b,
                                 stop=(rank + 1) * b)
            first = rank * b // group
            for k, groups in enumerate(masks):
                for j, (ctx, tgt) in enumerate(groups):
                    union = drawn[2 * j + k]  # drawn group by group, kind by kind
                    lo = (first + j) * group
                    assert union.shape[0] == min(group, total - lo)  # a whole group, the last one smaller
                    counts = union.sum(1)
                    assert tgt.shape[1] == counts.min() and ctx.shape[1] == N - counts.max()
                    mine = range(max(rank * b, lo) - lo, min((rank + 1) * b, lo + group) - lo)
                    assert ctx.shape[0] == len(mine)
                    for row, i in enumerate(mine):  # the first indices of this clip's own sets
                        assert tgt[row].tolist() == union[i].nonzero()[:tgt.shape[1], 0].tolist()
                        assert ctx[row].tolist() == (~union[i]).nonzero()[:ctx.shape[1], 0].tolist()
            for k, clips in enumerate(per_clip(masks)):
                rows[k] += clips
        assert len(rows[0]) == total
        whole = whole or rows
        assert rows == whole  # every clip's masks are the same for 1, 2, 4, 8 (or 3) processes


def test_grouped_cut_keeps_the_official_per_gpu_context():
    """One process at batch 256 with groups of 24 keeps what the official 24-clip per-GPU collator keeps; one cut
    over the whole batch keeps about a quarter less short-mask context (official, batch 256: 0.182)."""
    kept = {"short": [], "long": [], "short_b256": []}
    for step in range(25):
        masks = sample_masks(WINDOW, (SHORT, LONG), draws(step), total=256, group=24)
        for name, groups in zip(("short", "long"), masks):
            kept[name] += [(ctx.shape[1] / N, tgt.shape[1] / N, ctx.shape[0]) for ctx, tgt in groups]
        whole = sample_masks(WINDOW, (SHORT,), draws(step), total=256)[0][0][0]
        kept["short_b256"].append(whole.shape[1] / N)
    for name in ("short", "long"):
        ref = OFFICIAL[name]
        assert [n for *_, n in kept[name][:11]] == [24] * 10 + [16]
        assert abs(np.mean([c for c, _, _ in kept[name]]) - ref["kept_context_b24"]) < 0.012
        assert abs(np.mean([t for _, t, _ in kept[name]]) - ref["kept_target_b24"]) < 0.015
    assert abs(np.mean(kept["short_b256"]) - OFFICIAL["short"]["kept_context_b256"]) < 0.015
    with pytest.raises(BadInput, match="group"):
        sample_masks(WINDOW, (SHORT,), draws(0), total=8, group=0)


def test_a_step_draws_the_same_masks_on_any_number_of_processes(monkeypatch):
    """The objective's masks of a step: rank r's clips are global positions [r*b, (r+1)*b) (StepSampler), groups of
    mask_group (24, the official per-GPU batch) over the global batch, so every clip's masks are the same on 1, 2,
    4 or 8 processes; a new step draws new masks; a group below 1 clip is refused."""
    from synvid.engine import objectives
    objective = VJEPA(resolve(PretrainConfig, "paper", objective="vjepa", batch_size=64), VjepaConfig())
    assert objective.vj.mask_group == 24
    clips = None
    for world in (1, 2, 4, 8):
        monkeypatch.setattr(objectives.dist, "world_size", lambda world=world: world)
        rows = [[], []]
        for rank in range(world):
            monkeypatch.setattr(objectives.dist, "rank", lambda rank=rank: rank)
            masks = objective.masks(64 // world, WINDOW, step=5, device="cpu")
            for k, kind_rows in enumerate(per_clip(masks)):
                rows[k] += kind_rows
        clips = clips or rows
        assert rows == clips
    monkeypatch.setattr(objectives.dist, "world_size", lambda: 1)
    monkeypatch.setattr(objectives.dist, "rank", lambda: 0)
    assert [ctx.shape[0] for ctx, _ in objective.masks(64, WINDOW, step=5, device="cpu")[0]] == [24, 24, 16]
    assert per_clip(objective.masks(64, WINDOW, step=6, device="cpu")) != clips
    with pytest.raises(BadInput, match="mask_group"):
        VJEPA(resolve(PretrainConfig, "paper", objective="vjepa"), VjepaConfig(mask_group=0))
