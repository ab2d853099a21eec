"""Multi-view test (PROTOCOLS.md §2.4; VM `engine_for_finetuning.final_test` + `merge`).

Per view a forward pass and a softmax; per video the mean of its num_segments x num_crops softmax vectors;
top-1/top-5 over videos. Each rank scores a disjoint shard of the videos and the (index, scores) pairs are
all-gathered in memory (no per-rank text files, no duplicated padding samples).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from synvid import dist
from synvid.data.video_dataset import FailureLog, TestViews, collate
from synvid.engine.common import autocast


def test_dataset(items, cfg, *, num_segments: int, corrupt=None, corrupt_per: str = "view") -> TestViews:
    """The test views of a Finetune/LinprobeConfig-like `cfg` (num_frames, sampling_rate, short_side_size,
    input_size, test_crops, strict)."""
    if cfg.short_side_size != cfg.input_size:
        raise ValueError("the official test crops the full short side: short_side_size must equal input_size "
                         f"(got {cfg.short_side_size} and {cfg.input_size})")
    return TestViews(items, num_frames=cfg.num_frames, sampling_rate=cfg.sampling_rate, num_segments=num_segments,
                     num_crops=cfg.test_crops, size=cfg.input_size, strict=getattr(cfg, "strict", False),
                     corrupt=corrupt, corrupt_per=corrupt_per)


def iter_views(dataset: TestViews, *, batch_size: int, num_workers: int, device, failures: FailureLog):
    """This rank's disjoint shard of `dataset` in batches: yields (views [B,V,3,T,S,S], labels, indices);
    unreadable videos go to `failures`."""
    shard = Subset(dataset, list(range(dist.rank(), len(dataset), dist.world_size())))
    loader = DataLoader(shard, batch_size=batch_size, num_workers=num_workers, collate_fn=collate,
                        pin_memory=device.type == "cuda")
    for fields, failed in loader:
        failures.add(failed)
        if fields is not None:
            yield fields


@torch.no_grad()
def _score_shard(model, data, *, batch_size, device, num_workers, bf16, failures) -> dict[int, np.ndarray]:
    scores = {}
    for views, _, index in iter_views(data, batch_size=batch_size, num_workers=num_workers, device=device,
                                      failures=failures):
        b, v = views.shape[:2]
        with autocast(device, bf16):
            logits = model(views.flatten(0, 1).to(device, non_blocking=True))
        probs = logits.float().softmax(-1).view(b, v, -1).mean(1).cpu().numpy()
        for i, p in zip(index.tolist(), probs):
            scores[i] = p
    return scores


def evaluate(model, dataset: TestViews, *, batch_size: int = 4, device=None, num_workers: int = 0,
             bf16: bool = True, corrupt=None, corrupt_per: str | None = None, print_fn=print) -> dict:
    """Multi-view accuracy of `model` on `dataset`. Returns {"top1", "top5" (percent), "num_videos",
    "skipped_videos", "skipped_names", "videos": [{"path", "label", "pred", "scores"}]} on every rank.

    `corrupt` / `corrupt_per` (UCF101-P) replace the dataset's corruption hook for this call."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if corrupt is not None:
        dataset.corrupt = corrupt
        dataset.corrupt_per = corrupt_per or dataset.corrupt_per
    was_training = model.training
    model.eval()
    failures = FailureLog(print_fn)
    local = _score_shard(model, dataset, batch_size=batch_size, device=device, num_workers=num_workers, bf16=bf16,
                         failures=failures)
    model.train(was_training)
    gathered = dist.all_gather_objects((local, failures.names))
    scores, skipped = {}, []
    for part, names in gathered:
        scores.update(part)
        skipped += names
    return _summarise(dataset, scores, skipped, print_fn)


def _summarise(dataset: TestViews, scores: dict[int, np.ndarray], skipped: list[str], print_fn) -> dict:
    if not scores:
        raise RuntimeError(f"no test video could be read ({len(skipped)} unreadable), e.g. {skipped[:3]}")
    videos, top1, top5 = [], 0, 0
    for i in sorted(scores):
        path, label = dataset.items[i]
        p = scores[i]
        best = np.argsort(-p)[:5]
        top1 += int(best[0] == label)
        top5 += int(label in best)
        videos.append({"path": path, "label": int(label), "pred": int(best[0]),
                       "scores": [round(float(s), 6) for s in p]})
    if skipped:
        print_fn(f"warning: {len(skipped)} unreadable test video(s) were skipped and are not in the accuracy: "
                 f"{skipped[:10]}")
    n = len(videos)
    return {"top1": 100.0 * top1 / n, "top5": 100.0 * top5 / n, "num_videos": n,
            "skipped_videos": len(skipped), "skipped_names": skipped, "videos": videos}
