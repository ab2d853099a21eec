"""Multi-view test (PROTOCOLS.md §2.4; VM `engine_for_finetuning.final_test` + `merge`).

Per view a forward pass and a softmax; per video the mean of its num_segments x num_crops softmax vectors;
top-1/top-5 over videos. Each rank scores a disjoint shard of the videos and the (index, scores) pairs are
all-gathered in memory (no per-rank text files, no duplicated padding samples).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from synvid import dist
from synvid.data.video_dataset import FailureLog, TestViews, collate
from synvid.engine.common import autocast
from synvid.errors import BadInput, VideoReadError
from synvid.transforms import normalize


# A rank's loader (its workers' queues plus the items being decoded) stays under this many bytes
LOADER_BYTES = 2 * 2**30
PREFETCH = 1              # batches queued per worker (DataLoader default 2; decoding, not the model, is the bound)


def test_dataset(items, cfg, *, num_segments: int, corrupt=None, corrupt_per: str = "view", missing=(),
                 allow_missing: bool | None = None) -> TestViews:
    """The test views of a Finetune/LinprobeConfig-like `cfg` (num_frames, sampling_rate, short_side_size,
    input_size, test_crops, allow_missing). `missing`: listed videos absent from the disk (registry.load_split
    with allow_missing); they count in the denominator record (`test_listed`, `test_missing`)."""
    if cfg.short_side_size != cfg.input_size:
        raise BadInput("the official test crops the full short side: short_side_size must equal input_size "
                       f"(got {cfg.short_side_size} and {cfg.input_size})")
    views = TestViews(items, num_frames=cfg.num_frames, sampling_rate=cfg.sampling_rate, num_segments=num_segments,
                      num_crops=cfg.test_crops, size=cfg.input_size, corrupt=corrupt, corrupt_per=corrupt_per)
    views.missing = list(missing)
    views.allow_missing = getattr(cfg, "allow_missing", False) if allow_missing is None else allow_missing
    return views


def loader_bytes(batch: int, item_bytes: int, num_workers: int) -> int:
    """Peak host bytes of a rank's test loader: each worker holds its PREFETCH queued batches, the batch it is
    collating (the items and their stacked copy) and the item it is building; the main process holds one batch and
    its pinned copy. The decoder and allocator add ~90 MB per worker on top (measured at the paper profile, 8 workers,
    batch 1: 1.84 GiB of PSS above the bare process, against 1.14 GiB from this count; batch 2: 2.18 GiB)."""
    workers = max(num_workers, 1)
    return (workers * (PREFETCH * batch + 2 * batch + 1) + 2 * batch) * item_bytes


def loader_batch_size(requested: int, item_bytes: int, num_workers: int) -> int:
    """The test batch (videos per rank), lowered until `loader_bytes` fits LOADER_BYTES (at least 1). At the paper
    profile (15 uint8 views of 16x224^2 = 36 MB per video) with 8 workers: 1 video (1.2 GiB)."""
    batch = max(requested, 1)
    while batch > 1 and loader_bytes(batch, item_bytes, num_workers) > LOADER_BYTES:
        batch -= 1
    return batch


def to_model_input(views: torch.Tensor, device) -> torch.Tensor:
    """uint8 views [B,V,T,S,S,3] (kept as bytes until here: 4x less host and shared memory than float) ->
    normalised float [B*V,3,T,S,S] on `device`."""
    return normalize(views.flatten(0, 1).to(device, non_blocking=True))


def iter_views(dataset: TestViews, *, batch_size: int, num_workers: int, device, failures: FailureLog,
               strict: bool):
    """This rank's disjoint shard of `dataset` in batches: yields (uint8 views [B,V,T,S,S,3], labels, indices);
    unreadable videos go to `failures`. Every rank takes the same number of steps (the longest shard's) and sums
    the unreadable counts in one small all-reduce per step; with `strict` a count above zero stops every rank
    at that step, naming the files, instead of one rank stopping while the others wait in a collective."""
    shard = Subset(dataset, list(range(dist.rank(), len(dataset), dist.world_size())))
    batch_size = loader_batch_size(batch_size, dataset.item_bytes(), num_workers)
    loader = DataLoader(shard, batch_size=batch_size, num_workers=num_workers, collate_fn=collate,
                        pin_memory=device.type == "cuda", prefetch_factor=PREFETCH if num_workers > 0 else None)
    batches = iter(loader)
    for _ in range(math.ceil(math.ceil(len(dataset) / dist.world_size()) / batch_size)):
        fields, failed = next(batches, (None, []))
        failures.add(failed)
        if strict and dist.all_reduce_sum([len(failed)]).item():
            names = [f.path for part in dist.all_gather_objects(failed) for f in part]
            raise VideoReadError(f"{len(names)} unreadable video(s): {names[:10]}; a test split is used whole "
                                 "(give --allow-missing to evaluate without them and record their names)")
        if fields is not None:
            yield fields


@torch.no_grad()
def _score_shard(model, data, *, batch_size, device, num_workers, bf16, failures, strict) -> dict[int, np.ndarray]:
    scores = {}
    for views, _, index in iter_views(data, batch_size=batch_size, num_workers=num_workers, device=device,
                                      failures=failures, strict=strict):
        b, v = views.shape[:2]
        with autocast(device, bf16):
            logits = model(to_model_input(views, device))
        probs = logits.float().softmax(-1).view(b, v, -1).mean(1).cpu().numpy()
        scores.update(zip(index.tolist(), probs))
    return scores


def evaluate(model, dataset: TestViews, *, batch_size: int = 4, device=None, num_workers: int = 0,
             bf16: bool = True, allow_missing: bool | None = None, print_fn=print) -> dict:
    """Multi-view accuracy of `model` on `dataset`. Returns {"top1", "top5" (percent), "num_videos",
    "test_listed", "test_evaluated", "test_missing", "videos": [{"path", "label", "pred", "scores"}]} on every
    rank. Strict unless `allow_missing` (default: the dataset's): an unreadable test video stops every rank."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    allow = getattr(dataset, "allow_missing", False) if allow_missing is None else allow_missing
    was_training = model.training
    model.eval()
    failures = FailureLog(print_fn)
    local = _score_shard(model, dataset, batch_size=batch_size, device=device, num_workers=num_workers, bf16=bf16,
                         failures=failures, strict=not allow)
    model.train(was_training)
    gathered = dist.all_gather_objects((local, failures.names))
    scores, skipped = {}, []
    for part, names in gathered:
        scores.update(part)
        skipped += names
    return _summarise(dataset, scores, getattr(dataset, "missing", []), skipped, print_fn)


def _summarise(dataset, scores: dict[int, np.ndarray], absent: list[str], skipped: list[str], print_fn) -> dict:
    if not scores:
        raise VideoReadError(f"no test video could be read ({len(skipped)} unreadable), e.g. {skipped[:3]}")
    videos, top1, top5 = [], 0, 0
    for i in sorted(scores):
        path, label = dataset.items[i]
        p = scores[i]
        best = np.argsort(-p)[:5]
        top1 += int(best[0] == label)
        top5 += int(label in best)
        videos.append({"path": path, "label": int(label), "pred": int(best[0]),
                       "scores": [round(float(s), 6) for s in p]})
    missing = sorted(absent) + sorted(skipped)
    if missing:
        print_fn(f"warning: {len(missing)} listed test video(s) are missing or unreadable and are not in the "
                 f"accuracy (--allow-missing): {missing[:10]}")
    n = len(videos)
    return {"top1": 100.0 * top1 / n, "top5": 100.0 * top5 / n, "num_videos": n,
            "skipped_videos": len(skipped), "skipped_names": sorted(skipped),
            **denominators(len(dataset) + len(absent), n, missing), "videos": videos}


def denominators(listed: int, evaluated: int, missing: list[str]) -> dict:
    """The test-denominator record (RECORDS.md): videos in the split file, evaluated, and the names left out."""
    return {"test_listed": int(listed), "test_evaluated": int(evaluated), "test_missing": [Path(m).name
                                                                                           for m in missing]}
