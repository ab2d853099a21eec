"""Linear probing (Section 4.3, Table 7, PROTOCOLS.md §2.6 and Q10).

Frozen encoder; head = BatchNorm1d(D, affine=False, eps=1e-6) -> Linear(D, C) on the mean-pooled features
(MAE / YU `run_linear_probe.py`). Two modes, recorded as `probe_mode` in results.json and DONE:
- finetune_aug (`cache_features=False`, profiles paper, authors, mini, smoke): §4.3 "the same hyper-parameters as
  used for fine-tuning, replacing only the base learning rate to 0.01, and do not use weight decay", run as the
  authors' probe: the fine-tuning loop (RandAug, random resized crop, flip, erasing, repeated aug, mixup/cutmix,
  label smoothing) with only the head trainable and the model in train mode, so drop path stays active in the
  frozen encoder (§2.6);
- cached (`cache_features=True`, an explicit fast mode): features of the unaugmented test-style views of every
  training video (num_segments x test_crops per video) are extracted once with the encoder in eval mode; the head
  then trains on that cache with the fine-tuning schedule: floor(N_videos / batch) steps per epoch, each step a
  batch of videos with one random cached view each, AdamW, cross-entropy with the fine-tuning label smoothing
  (no mixup/RandAug/drop path; far cheaper, not the paper's protocol).
Both resume from `last.pth` at any step and end with the same multi-view test (`evaluate`).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synvid import dist
from synvid.config import FinetuneConfig, LinprobeConfig, resolve, to_dict
from synvid.data import registry
from synvid.data.video_dataset import FailureLog
from synvid.engine import common
from synvid.engine import finetune as ft
from synvid.engine.evaluate import evaluate, iter_views, test_dataset, to_model_input
from synvid.optim import cosine_schedule, scaled_lr
from synvid.provenance import probe_mode
from synvid.runs import atomic_torch_save, is_done, read_done, upstream_objective

RESUME_FREE = {"num_workers", "allow_missing"}
# settings that change the cached features (a features.pt extracted under other values is refused)
FEATURE_KEYS = ("model", "num_frames", "sampling_rate", "input_size", "short_side_size", "test_crops", "split")


def probe_model(cfg, num_classes: int, init: str, device) -> nn.Module:
    """Classifier with a frozen encoder and the BN + linear head (the only trainable parameters). The linear layer
    is the classifier's own fresh head (timm trunc-normal 0.02 x init_scale 0.001, zero bias), as YU
    `run_linear_probe.py` wraps `model.head` (MAE's probe re-initialises it with std 0.01 instead)."""
    model = ft.build_model(cfg, num_classes, init, device)
    for p in model.parameters():
        p.requires_grad_(False)
    linear = model.head
    model.head = nn.Sequential(nn.BatchNorm1d(linear.in_features, affine=False, eps=1e-6), linear).to(device)
    for p in model.head.parameters():
        p.requires_grad_(True)
    return model


def finetune_settings(cfg: LinprobeConfig, profile: str) -> FinetuneConfig:
    """§4.3 'other settings as fine-tuning': the profile's FinetuneConfig with the probe's own values on top;
    layer decay 1.0 (YU run_linear_probe.py default). Label smoothing, bf16, etc. come from fine-tuning."""
    shared = {f.name for f in dataclasses.fields(FinetuneConfig)} & {f.name for f in dataclasses.fields(cfg)}
    return dataclasses.replace(resolve(FinetuneConfig, profile), layer_decay=1.0,
                               **{k: getattr(cfg, k) for k in shared})


@torch.no_grad()
def extract_features(model: nn.Module, dataset, *, batch_size: int, device, num_workers: int, bf16: bool,
                     failures: FailureLog, strict: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Features [N_videos, V, D] (V views per video) and labels [N_videos] of every readable video (encoder in
    eval mode); each rank extracts a shard, the shards are all-gathered in memory."""
    feats = {}
    for views, _, index in iter_views(dataset, batch_size=batch_size, num_workers=num_workers, device=device,
                                      failures=failures, strict=strict):
        with common.autocast(device, bf16):
            f = model.forward_features(to_model_input(views, device))
        for i, part in zip(index.tolist(), f.float().cpu().view(len(index), views.shape[1], -1)):
            feats[i] = part
    gathered = {}
    for part in dist.all_gather_objects(feats):
        gathered.update(part)
    if not gathered:
        raise RuntimeError(f"no training video could be read ({len(failures.names)} unreadable)")
    x = torch.stack([gathered[i] for i in sorted(gathered)])
    y = torch.tensor([dataset.items[i][1] for i in sorted(gathered)])
    return x, y


def probe_loss(logits: torch.Tensor, labels: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Fine-tuning's soft-target cross-entropy without mixing: one-hot with label smoothing (timm)."""
    return ft.soft_target_cross_entropy(logits, ft.soft_targets(labels, logits.shape[-1], smoothing))


def cached_batch(x: torch.Tensor, order: np.ndarray, batch: int, *, seed: int, epoch: int, step: int,
                 dropout: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Step `step` of an epoch: the videos order[step*batch:(step+1)*batch] (order = the epoch's permutation)
    and one random cached view of each, plus the classifier dropout mask (fc_drop_rate, before the head as in
    fine-tuning). All randomness comes from (seed, epoch, step), so a resumed run draws the same batches.
    Returns (features [batch, D], video indices [batch])."""
    videos = torch.from_numpy(order[step * batch:(step + 1) * batch])
    rng = np.random.default_rng([seed, epoch, step])
    views = torch.from_numpy(rng.integers(x.shape[1], size=len(videos)))
    feats = x[videos, views]
    if dropout > 0:
        keep = torch.from_numpy(rng.random(feats.shape) >= dropout)
        feats = feats * keep / (1.0 - dropout)
    return feats, videos


def train_head_on_cache(head: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: FinetuneConfig, run_dir: Path,
                        config: dict, *, stop_after: int | None = None) -> dict:
    """Train `head` on cached features x [N_videos, V, D], labels y [N_videos] with the fine-tuning schedule
    (§3.2 'the same number of ... linear probing steps'): floor(N_videos / batch) steps per epoch (tail dropped),
    lr = base_lr * batch / 256 with warm-up + cosine per step (Table 7), AdamW, label smoothing. Logs every step,
    saves `run_dir/last.pth` after every epoch and at `stop_after` steps, and resumes from it at any step."""
    n = len(x)
    steps = n // cfg.batch_size
    if steps < 1:
        raise ValueError(f"{n} training videos are fewer than the total batch {cfg.batch_size}")
    total = cfg.epochs * steps
    lr = cosine_schedule(scaled_lr(cfg.base_lr, cfg.batch_size), scaled_lr(cfg.min_lr, cfg.batch_size),
                         cfg.epochs, steps, cfg.warmup_epochs)
    opt = torch.optim.AdamW(head.parameters(), lr=float(lr[0]), betas=(cfg.beta1, cfg.beta2),
                            weight_decay=cfg.weight_decay)
    start = common.resume(run_dir, model=head, optimizer=opt)
    stop = total if stop_after is None else min(stop_after, total)
    log = common.RunLogger(run_dir, resume_step=start)
    head.train()  # BN running statistics update, as in MAE's probe
    with common.StopSignal() as signals:
        for step in range(start, stop):
            epoch, s = divmod(step, steps)
            for group in opt.param_groups:
                group["lr"] = float(lr[step])
            # as ft.EpochSampler orders videos; every draw is keyed by (seed, epoch, step), so a resume repeats it
            feats, videos = cached_batch(x, ft.epoch_order(n, cfg.seed, epoch), cfg.batch_size, seed=cfg.seed,
                                         epoch=epoch, step=s, dropout=cfg.dropout)
            loss = probe_loss(head(feats), y[videos], cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            common.check_finite(loss.item(), step + 1, run_dir)
            log.write(step + 1, epoch=epoch, loss=loss.item(), lr=float(lr[step]))
            preempted = signals.requested()   # SLURM's warning signal: save now, requeue, resume
            if preempted or (step + 1) % steps == 0 or step + 1 == stop:
                common.save(run_dir, model=head, optimizer=opt, step=step + 1, epoch=(step + 1) // steps,
                            config=config)
            if preempted:
                raise common.Preempted(step + 1, run_dir)
    log.close()
    return {"steps": max(start, stop), "steps_per_epoch": steps, "total_steps": total}


def _features(cfg, fcfg, model, run_dir, train_items, segments, device, failures, extra) -> tuple:
    """The cached features (features.pt, written once by rank 0), extracted now if absent."""
    key = json.dumps({**{k: getattr(fcfg, k) for k in FEATURE_KEYS}, "segments": segments, **extra}, sort_keys=True)
    cache = run_dir / "features.pt"
    if cache.exists():
        saved = torch.load(cache, weights_only=True)
        if saved.get("settings") != key:
            raise ValueError(f"{cache} was extracted with other settings ({saved.get('settings')}); "
                             f"use another --out or delete it")
        return saved["x"], saved["y"]
    model.eval()
    data = test_dataset(train_items, fcfg, num_segments=segments)
    x, y = extract_features(model, data, batch_size=max(cfg.batch_size // 8, 1), device=device,
                            num_workers=cfg.num_workers, bf16=fcfg.bf16, failures=failures, strict=fcfg.strict)
    dist.on_main(atomic_torch_save, cache, {"x": x, "y": y, "settings": key})
    return x, y


def _cached(cfg, fcfg, model, run_dir, train_items, segments, device, failures, config, extra, stop_after) -> dict:
    x, y = _features(cfg, fcfg, model, run_dir, train_items, segments, device, failures,
                     {k: extra[k] for k in ("dataset", "data_root", "init")})
    results = train_head_on_cache(model.head.cpu(), x.float(), y, fcfg, run_dir, config, stop_after=stop_after)
    model.head.to(device)
    return {**results, "cached_videos": len(x), "cached_views_per_video": x.shape[1]}


def run(cfg: LinprobeConfig, out: str | Path, *, dataset: str, data_root, init: str, profile: str = "paper",
        stop_after: int | None = None, progress: bool = True, extra: dict | None = None,
        allow_unfinished: bool = False) -> dict:
    """Probe `init` on `dataset` and run the multi-view test; returns DONE's dict (`stop_after` steps: stop early,
    without the test or DONE; rerunning resumes)."""
    run_dir = Path(out)
    if is_done(run_dir):
        return read_done(run_dir)
    if cfg.optimizer != "adamw":
        raise ValueError(f"only the AdamW probe of Table 7 is implemented, got optimizer={cfg.optimizer!r}")
    if init != "scratch" and not Path(init).exists():   # scratch: Table 1's "Random initialization" probe (8.9)
        raise FileNotFoundError(f"--init checkpoint not found: {init}")
    source = common.upstream(init, run_dir, allow_unfinished=allow_unfinished)
    _, _, _, device = dist.init_distributed()
    record = registry.get(dataset)
    fcfg = finetune_settings(cfg, profile)
    train, test_split = ft.load_splits(dataset, data_root, fcfg)
    segments = cfg.test_clips or record.test_clips
    extra = {**dict(dataset=dataset, data_root=str(data_root), init=str(init), num_classes=len(train.classes),
                    profile=profile, objective=upstream_objective(init)), **(extra or {})}  # issue 16
    config = to_dict(cfg, fcfg, **extra)
    common.check_resumable(run_dir, config, RESUME_FREE)
    digest = common.write_config(run_dir, config, RESUME_FREE)
    model = probe_model(fcfg, len(train.classes), init, device)
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("head.")}
    failures = FailureLog()
    if cfg.cache_features:
        results = _cached(cfg, fcfg, model, run_dir, train.items, segments, device, failures, config, extra,
                          stop_after)
    else:  # §4.3 as the authors ran it: the fine-tuning loop (train mode, augmentations) with only the head trainable
        trainer = ft.Finetuner(fcfg, run_dir, train.items, len(train.classes), init, config, device, model=model)
        results = {"steps": trainer.fit(failures, stop_after, progress=progress),
                   "steps_per_epoch": trainer.steps_per_epoch, "total_steps": trainer.total_steps}
    changed = [k for k, v in model.state_dict().items() if k in frozen and not torch.equal(v, frozen[k])]
    if changed:
        raise RuntimeError(f"linear probing changed frozen encoder weights: {changed[:5]}")
    results.update(ft.train_record(train, failures), probe_mode=probe_mode(cfg))
    if results["steps"] < results["total_steps"]:
        return results
    test = test_dataset(test_split.items, fcfg, num_segments=segments, missing=test_split.missing)
    results.update(evaluate(model, test, batch_size=max(cfg.batch_size // 8, 1), device=device,
                            num_workers=cfg.num_workers, bf16=fcfg.bf16))
    results.update(mode="cached" if cfg.cache_features else "augmented", views=f"{segments}x{cfg.test_crops}",
                   label_smoothing=fcfg.label_smoothing, objective=extra["objective"], config_hash=digest,
                   upstream=source, seed=cfg.seed)
    common.finish(run_dir, results, {k: v for k, v in results.items() if k != "videos"})
    return results
