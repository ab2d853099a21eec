"""Linear probing (Section 4.3, Table 7, PROTOCOLS.md §2.6 and Q10).

Frozen encoder; head = BatchNorm1d(D, affine=False, eps=1e-6) -> Linear(D, C) on the mean-pooled features
(MAE / YU `run_linear_probe.py`). Two modes:
- cached (`cache_features=True`, paper profile): features of the unaugmented test-style views of every training
  video (num_segments x 3 per video) are extracted once with the encoder in eval mode and the head is trained
  on that cache with AdamW + cross-entropy (no mixup/RandAug; far cheaper);
- augmented clips (`cache_features=False`, authors profile): the fine-tuning loop as the authors ran it: every
  step decodes and augments clips (RandAug, mixup/cutmix, erasing, repeated aug) and the frozen encoder stays in
  train mode, so drop path stays active (§2.6).
Both end with the same multi-view test (`evaluate`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from synvid import dist
from synvid.config import FinetuneConfig, LinprobeConfig, resolve, save_config, to_dict
from synvid.data import registry
from synvid.data.video_dataset import FailureLog
from synvid.engine import finetune as ft
from synvid.engine.common import autocast
from synvid.engine.evaluate import evaluate, iter_views, test_dataset
from synvid.optim import cosine_schedule, scaled_lr
from synvid.runs import atomic_torch_save, atomic_write_json, is_done, mark_done, read_done


def probe_model(cfg, num_classes: int, init: str, device) -> nn.Module:
    """Classifier with a frozen encoder and the BN + linear head (the only trainable parameters)."""
    model = ft.build_model(cfg, num_classes, init, device)
    for p in model.parameters():
        p.requires_grad_(False)
    dim = model.head.in_features
    linear = nn.Linear(dim, num_classes)
    nn.init.trunc_normal_(linear.weight, std=0.01)  # MAE main_linprobe.py
    nn.init.zeros_(linear.bias)
    model.head = nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=1e-6), linear).to(device)
    return model


def finetune_settings(cfg: LinprobeConfig, profile: str) -> FinetuneConfig:
    """§4.3 'other settings as fine-tuning': the profile's FinetuneConfig with the probe's own values on top;
    layer decay 1.0 (YU run_linear_probe.py default)."""
    shared = {f.name for f in dataclasses.fields(FinetuneConfig)} & {f.name for f in dataclasses.fields(cfg)}
    return dataclasses.replace(resolve(FinetuneConfig, profile), layer_decay=1.0,
                               **{k: getattr(cfg, k) for k in shared})


@torch.no_grad()
def extract_features(model: nn.Module, dataset, *, batch_size: int, device, num_workers: int, bf16: bool,
                     failures: FailureLog) -> tuple[torch.Tensor, torch.Tensor]:
    """Features [N_views_total, D] and labels of every view of every readable video (encoder in eval mode);
    each rank extracts a shard, the shards are all-gathered in memory."""
    feats = {}
    for views, _, index in iter_views(dataset, batch_size=batch_size, num_workers=num_workers, device=device,
                                      failures=failures):
        with autocast(device, bf16):
            f = model.forward_features(views.flatten(0, 1).to(device))
        for i, part in zip(index.tolist(), f.float().cpu().view(len(index), views.shape[1], -1)):
            feats[i] = part
    gathered = {}
    for part in dist.all_gather_objects(feats):
        gathered.update(part)
    x = torch.cat([gathered[i] for i in sorted(gathered)])
    y = torch.cat([torch.full((len(gathered[i]),), dataset.items[i][1]) for i in sorted(gathered)])
    return x, y


def train_head_on_cache(head: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: LinprobeConfig) -> list[float]:
    """AdamW on the cached features; lr = base_lr * batch / 256, warm-up + cosine per step (Table 7)."""
    g = torch.Generator().manual_seed(cfg.seed)
    batch = min(cfg.batch_size, len(x))
    steps = len(x) // batch
    lr = cosine_schedule(scaled_lr(cfg.base_lr, cfg.batch_size), scaled_lr(cfg.min_lr, cfg.batch_size),
                         cfg.epochs, steps, cfg.warmup_epochs)
    opt = torch.optim.AdamW(head.parameters(), lr=float(lr[0]), betas=(cfg.beta1, cfg.beta2),
                            weight_decay=cfg.weight_decay)
    head.train()
    losses = []
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(x), generator=g)
        for s in range(steps):
            for group in opt.param_groups:
                group["lr"] = float(lr[epoch * steps + s])
            idx = order[s * batch:(s + 1) * batch]
            loss = F.cross_entropy(head(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        losses.append(loss.item())
    return losses


def _cached(cfg, model, run_dir, train_items, segments, device, failures) -> dict:
    data = test_dataset(train_items, cfg, num_segments=segments)
    cache = run_dir / "features.pt"
    if cache.exists():
        x, y = torch.load(cache, weights_only=True).values()
    else:
        model.eval()
        x, y = extract_features(model, data, batch_size=max(cfg.batch_size // 4, 1), device=device,
                                num_workers=cfg.num_workers, bf16=True, failures=failures)
        if dist.is_main():
            atomic_torch_save(cache, {"x": x, "y": y})
    losses = train_head_on_cache(model.head.cpu(), x.float(), y, cfg)
    model.head.to(device)
    return {"final_loss": losses[-1], "cached_samples": len(x)}


def run(cfg: LinprobeConfig, out: str | Path, *, dataset: str, data_root, init: str, profile: str = "paper",
        progress: bool = True) -> dict:
    run_dir = Path(out)
    if is_done(run_dir):
        return read_done(run_dir)
    if cfg.optimizer != "adamw":
        raise ValueError(f"only the AdamW probe of Table 7 is implemented, got optimizer={cfg.optimizer!r}")
    if not Path(init).exists():
        raise FileNotFoundError(f"--init checkpoint not found: {init}")
    _, _, _, device = dist.init_distributed()
    record = registry.get(dataset)
    train_items, classes = registry.load(dataset, data_root, "train", cfg.split)
    test_items, _ = registry.load(dataset, data_root, "test", cfg.split)
    fcfg = finetune_settings(cfg, profile)
    segments = cfg.test_clips or record.test_clips
    extra = dict(dataset=dataset, data_root=str(data_root), init=str(init), num_classes=len(classes), profile=profile)
    if dist.is_main():
        save_config(run_dir, cfg, fcfg, world_size=dist.world_size(), **extra)
    model = probe_model(fcfg, len(classes), init, device)
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("head.")}
    failures = FailureLog()
    if cfg.cache_features:
        results = _cached(cfg, model, run_dir, train_items, segments, device, failures)
    else:  # the authors' way: the fine-tuning loop with only the head trainable
        trainer = ft.Finetuner(fcfg, run_dir, train_items, len(classes), init, to_dict(cfg, fcfg, **extra), device,
                               model=model)
        results = {"steps": trainer.fit(failures, progress=progress)}
    changed = [k for k, v in model.state_dict().items() if k in frozen and not torch.equal(v, frozen[k])]
    if changed:
        raise RuntimeError(f"linear probing changed frozen encoder weights: {changed[:5]}")
    results.update({f"train_{k}": v for k, v in failures.summary().items()})
    test = test_dataset(test_items, fcfg, num_segments=segments)
    results.update(evaluate(model, test, batch_size=max(cfg.batch_size // 8, 1), device=device,
                            num_workers=cfg.num_workers, bf16=fcfg.bf16))
    results.update(mode="cached" if cfg.cache_features else "augmented", views=f"{segments}x{cfg.test_crops}")
    if dist.is_main():
        atomic_write_json(run_dir / "results.json", results)
        mark_done(run_dir, {k: v for k, v in results.items() if k != "videos"})
    dist.barrier()
    return results
