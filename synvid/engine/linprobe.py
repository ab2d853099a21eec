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
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synvid import dist
from synvid.config import PROBE_REPLACES, FinetuneConfig, LinprobeConfig, to_dict
from synvid.data.sampling import epoch_order
from synvid.data.video_dataset import FailureLog
from synvid.engine import common, loop
from synvid.engine.clip_training import AugmentedClipTraining
from synvid.engine.downstream import DownstreamRun, build_classifier
from synvid.engine.evaluate import iter_views, test_dataset, to_model_input
from synvid.engine.losses import soft_target_cross_entropy, soft_targets
from synvid.errors import BadInput, VideoReadError
from synvid.provenance import probe_mode
from synvid.runs import RunDir, atomic_torch_save

RESUME_FREE = {"num_workers", "allow_missing", "cache_decoded"}
# settings that change the cached features (a features.pt extracted under other values is refused)
FEATURE_KEYS = ("model", "num_frames", "sampling_rate", "input_size", "short_side_size", "test_crops", "split")


def probe_model(cfg, num_classes: int, weights, device) -> nn.Module:
    """Classifier (`weights`: as downstream.build_classifier's) with a frozen encoder and the BN + linear head (the
    only trainable parameters). The linear layer is the classifier's own fresh head (timm trunc-normal 0.02 x
    init_scale 0.001, zero bias), as YU `run_linear_probe.py` wraps `model.head` (MAE's probe re-initialises it
    with std 0.01 instead)."""
    model = build_classifier(cfg, num_classes, weights, device)
    for p in model.parameters():
        p.requires_grad_(False)
    linear = model.head
    model.head = nn.Sequential(nn.BatchNorm1d(linear.in_features, affine=False, eps=1e-6), linear).to(device)
    for p in model.head.parameters():
        p.requires_grad_(True)
    return model


def finetune_settings(cfg: LinprobeConfig, tune: FinetuneConfig) -> FinetuneConfig:
    """What the probe trains with, §4.3 'other settings as fine-tuning': `tune` (the FinetuneConfig of the profile,
    dataset recipe and command line) with the probe's own lr, min_lr, weight decay and layer decay
    (config.PROBE_REPLACES)."""
    return dataclasses.replace(tune, **{k: getattr(cfg, k) for k in PROBE_REPLACES})


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
        feats.update(zip(index.tolist(), f.float().cpu().view(len(index), views.shape[1], -1)))
    gathered = {i: f for part in dist.all_gather_objects(feats) for i, f in part.items()}
    if not gathered:
        raise VideoReadError(f"no training video could be read ({len(failures.names)} unreadable)")
    x = torch.stack([gathered[i] for i in sorted(gathered)])
    y = torch.tensor([dataset.items[i][1] for i in sorted(gathered)])
    return x, y


def probe_loss(logits: torch.Tensor, labels: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Fine-tuning's soft-target cross-entropy without mixing: one-hot with label smoothing (timm)."""
    return soft_target_cross_entropy(logits, soft_targets(labels, logits.shape[-1], smoothing))


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


class CachedHead(loop.TrainLoop):
    """The fast probe's loop (loop.TrainLoop): `head` on cached features x [N_videos, V, D], labels y [N_videos],
    with the fine-tuning schedule (§3.2 'the same number of ... linear probing steps'): floor(N_videos / batch)
    steps per epoch (tail dropped), lr = base_lr * batch / 256 with warm-up + cosine per step (Table 7), AdamW,
    label smoothing; last.pth after every epoch. Every rank trains the same head on the all-gathered cache."""

    def __init__(self, head: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: FinetuneConfig, run_dir: Path,
                 config: dict):
        super().__init__(cfg, run_dir, config, torch.device("cpu"), len(x), world=1)
        self.x, self.y, self.save_every = x, y, self.steps_per_epoch
        self.prepare(head, [{"params": list(head.parameters()), "weight_decay": cfg.weight_decay}],
                     {"lr": loop.cosine_lr(cfg, self.steps_per_epoch)}, betas=(cfg.beta1, cfg.beta2), wrap=False)

    def batches(self, stop: int):
        """{feats, labels} per step: as sampling.EpochSampler orders videos; every draw is keyed by (seed, epoch,
        step), so a resume repeats it."""
        cfg = self.cfg
        for epoch, skip in self.epochs(stop):
            order = epoch_order(len(self.x), cfg.seed, epoch)
            for s in range(skip, self.steps_per_epoch):
                feats, videos = cached_batch(self.x, order, cfg.batch_size, seed=cfg.seed, epoch=epoch, step=s,
                                             dropout=cfg.dropout)
                yield {"feats": feats, "labels": self.y[videos]}

    def loss(self, feats: torch.Tensor, labels: torch.Tensor, step: int) -> torch.Tensor:
        return probe_loss(self.net(feats), labels, self.cfg.label_smoothing)  # BN statistics update (MAE's probe)


def fit(trainer: loop.TrainLoop, stop_after: int | None = None, progress: bool = False) -> dict:
    """Train (either probe mode); returns {steps reached, steps_per_epoch, total_steps}."""
    return {"steps": trainer.fit(stop_after, progress), "steps_per_epoch": trainer.steps_per_epoch,
            "total_steps": trainer.total_steps}


def weights_digest(encoder: dict[str, torch.Tensor]) -> str:
    """sha256 of the frozen encoder's tensors (name -> tensor): what a shared feature cache is keyed by, so that a
    pre-training redone under the same path never reuses the old run's features."""
    digest = hashlib.sha256()
    for name, tensor in sorted(encoder.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def feature_settings(cfg: FinetuneConfig, segments: int, source: dict) -> str:
    """The key a features file is extracted under: the FEATURE_KEYS of `cfg`, the test clips per video and `source`
    (what names the videos and weights: dataset, data_root, init)."""
    return json.dumps({**{k: getattr(cfg, k) for k in FEATURE_KEYS}, "segments": segments, **source}, sort_keys=True)


def feature_cache_file(run_dir: Path, shared: str | Path | None, encoder: dict[str, torch.Tensor],
                       settings: str) -> Path:
    """Where the cached features live: the run's own features.pt, or with `shared` (--feature-cache) a file of that
    folder named by the settings and the encoder's weights (`encoder`: every state entry outside the head), which
    every probe of the same encoder and settings reads (the seeds of a run_all plan: the features do not depend on
    the probe's seed)."""
    if shared is None:
        return run_dir / "features.pt"
    name = hashlib.sha256(f"{settings}|{weights_digest(encoder)}".encode()).hexdigest()[:24]
    return Path(shared) / f"features_{name}.pt"


def cached_features(model: nn.Module, cfg: FinetuneConfig, items, *, segments: int, cache: Path, settings: str,
                    device, failures: FailureLog) -> tuple[torch.Tensor, torch.Tensor]:
    """The features and labels of the training videos `items` (`segments` test-style clips each), read from
    `cache` when it was extracted under `settings` (feature_settings), else extracted now and written once by
    rank 0 (atomically: probes sharing a cache folder may race, and then write the same features). The names of
    the unreadable training videos are kept with them and go to `failures` on a read too."""
    if cache.exists():
        saved = torch.load(cache, weights_only=True)
        if saved.get("settings") != settings:
            raise BadInput(f"{cache} was extracted with other settings ({saved.get('settings')}); "
                           f"use another --out or delete it")
        failures.names.extend(n for n in saved.get("skipped", []) if n not in failures.names)
        return saved["x"], saved["y"]
    model.eval()
    data = test_dataset(items, cfg, num_segments=segments)
    x, y = extract_features(model, data, batch_size=max(cfg.batch_size // 8, 1), device=device,
                            num_workers=cfg.num_workers, bf16=cfg.bf16, failures=failures, strict=cfg.strict)
    skipped = sorted({n for part in dist.all_gather_objects(failures.names) for n in part})
    dist.on_main(atomic_torch_save, cache, {"x": x, "y": y, "settings": settings, "skipped": skipped})
    return x, y


def run(cfg: LinprobeConfig, tune: FinetuneConfig, out: str | Path, *, dataset: str, data_root, init: str,
        stop_after: int | None = None, progress: bool = True, extra: dict | None = None,
        allow_unfinished: bool = False, feature_cache: str | Path | None = None) -> dict:
    """Probe `init` on `dataset` with `cfg` over the fine-tuning settings `tune` (`finetune_settings`) and run the
    multi-view test; returns DONE's dict (`stop_after` steps: stop early, without the test or DONE; rerunning
    resumes). `feature_cache`: a folder of cached-mode features shared with other probes (feature_cache_file); a
    location, not a setting, so it is not part of the config (DONE records the file used)."""
    if cfg.optimizer != "adamw":
        raise BadInput(f"only the AdamW probe of Table 7 is implemented, got optimizer={cfg.optimizer!r}")
    fcfg = finetune_settings(cfg, tune)
    device = dist.init_distributed()[3]   # the process group of a torchrun launch (once: a no-op if joined)
    inputs = DownstreamRun(fcfg, dataset=dataset, data_root=data_root, init=init, allow_unfinished=allow_unfinished,
                           device=device)
    train = inputs.train
    config = to_dict(cfg, fcfg, **{**inputs.settings, **(extra or {})})
    with RunDir(out, config, free=RESUME_FREE, launch={"world_size": dist.world_size()}) as run_dir:
        if run_dir.done is not None:
            return run_dir.done
        model = probe_model(fcfg, len(train.classes), inputs.source.weights, device)
        frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("head.")}
        if cfg.cache_features:
            failures = FailureLog()
            settings = feature_settings(fcfg, inputs.segments,
                                        {k: config[k] for k in ("dataset", "data_root", "init")})
            cache = feature_cache_file(run_dir.path, feature_cache, frozen, settings)
            x, y = cached_features(model, fcfg, train.items, segments=inputs.segments, cache=cache,
                                   settings=settings, device=device, failures=failures)
            trainer = CachedHead(model.head.cpu(), x.float(), y, fcfg, run_dir.path, config)
            cached = {"cached_videos": len(x), "cached_views_per_video": x.shape[1],
                      **({"feature_cache": str(cache)} if feature_cache is not None else {})}
        else:  # §4.3 as the authors ran it: the fine-tuning loop (train mode, augmentations), only the head trainable
            trainer = AugmentedClipTraining(fcfg, run_dir.path, train.items, model, len(train.classes), config,
                                            device)
            failures, cached = trainer.failures, {}
        results = {**fit(trainer, stop_after, progress), **cached}
        model.head.to(device)   # back from the CPU after the cached probe
        changed = [k for k, v in model.state_dict().items() if k in frozen and not torch.equal(v, frozen[k])]
        if changed:
            raise RuntimeError(f"linear probing changed frozen encoder weights: {changed[:5]}")
        results["probe_mode"] = probe_mode(cfg.cache_features)
        return inputs.end(run_dir, model, fcfg, results, failures, batch_size=max(fcfg.batch_size // 8, 1),
                          label_smoothing=fcfg.label_smoothing, objective=config["objective"])
