"""Pre-training objectives: the pluggable part of the pre-training engine.

An objective owns the model, its AdamW groups and betas, its per-step schedules, the loss of one batch, gradient
clipping and what happens after the optimiser step. The engine (synvid/engine/pretrain.py over loop.TrainLoop, whose
step body calls these) owns everything else (data order, AdamW, DDP, resume, logging, DONE) and is the same for
every objective.

- `videomae`: the paper (Section 3.2, Table 5): tube mask, normalised-pixel MSE (synvid.models.videomae).
- `vjepa`: V-JEPA (facebookresearch/jepa app/vjepa/train.py): multi-block masks drawn per step, L1 on
  layer-normed EMA-target features, scheduled weight decay and momentum (synvid.models.vjepa, VjepaConfig).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from synvid import dist, models
from synvid.config import PretrainConfig, VjepaConfig
from synvid.data.sampling import sample_generator
from synvid.engine.loop import cosine_lr
from synvid.errors import BadInput
from synvid.models.multiblock import MaskKind, sample_masks
from synvid.models.vjepa import ema_update, momentum_schedule
from synvid.optim import param_groups, scaled_lr


class VideoMAE:
    """VideoMAE pixel reconstruction (the paper's objective); the engine's original behaviour, unchanged."""
    name = "videomae"

    def __init__(self, cfg: PretrainConfig, vjepa: VjepaConfig | None = None):
        self.cfg, self.betas = cfg, (cfg.beta1, cfg.beta2)

    def configs(self) -> tuple:
        """The config sections of a run of this objective (config.json, resume check)."""
        return (self.cfg,)

    def build_model(self, device) -> torch.nn.Module:
        cfg = self.cfg
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank and every fresh run
        model = models.build(cfg.model, decoder_depth=cfg.decoder_depth, num_frames=cfg.num_frames,
                      img_size=cfg.input_size, grad_checkpointing=cfg.grad_checkpointing)
        return model.to(device)

    def adamw_groups(self, model) -> list[dict]:
        """VM optim_factory: no decay on biases, norms and embeddings."""
        return param_groups(model, self.cfg.weight_decay)

    def schedule(self, steps_per_epoch: int) -> dict[str, np.ndarray]:
        """Per-step values by name (loop.TrainLoop.prepare): lr (VM: lr, min_lr both scaled by total_batch/256;
        warm-up from 0)."""
        return {"lr": cosine_lr(self.cfg, steps_per_epoch)}

    def loss(self, net, model, videos: torch.Tensor, mask: torch.Tensor, step: int) -> torch.Tensor:
        target = models.pixel_targets(videos, mask, model.tubelet, model.patch)
        return models.pretrain_loss(net(videos, mask), target)

    def clip_gradients(self, model, step: int) -> None:
        if self.cfg.clip_grad > 0:  # off by default: the official code clips nothing
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.cfg.clip_grad)

    def after_step(self, model, step: int) -> None:
        pass


def warmup_cosine(start: float, peak: float, final: float, total: int, warmup: int, stretch: float) -> np.ndarray:
    """jepa src/utils/schedulers.py `WarmupCosineSchedule` as called before each step (its counter is 1 at the
    first step): linear start -> peak over `warmup` steps, then cosine towards `final` over the stretched span
    int(stretch * total) - warmup, never below `final`."""
    span = int(stretch * total)
    out = np.empty(total)
    for i in range(total):
        k = i + 1
        if k < warmup:
            out[i] = start + k / max(1, warmup) * (peak - start)
        else:
            progress = (k - warmup) / max(1, span - warmup)
            out[i] = max(final, final + (peak - final) * 0.5 * (1 + math.cos(math.pi * progress)))
    return out


def cosine_weight_decay(start: float, final: float, total: int, stretch: float) -> np.ndarray:
    """jepa `CosineWDSchedule`: cosine from start to final over int(stretch * total) steps (counter from 1),
    clamped at `final` on the side it approaches from."""
    span = int(stretch * total)
    k = np.arange(1, total + 1)
    wd = final + (start - final) * 0.5 * (1 + np.cos(np.pi * k / span))
    return np.maximum(wd, final) if final <= start else np.minimum(wd, final)


MASK_STREAM = 6  # V-JEPA mask keys (seed, step, group, 6): apart from the data streams (1-4) and common.STEP_STREAM


class VJEPA:
    """V-JEPA feature prediction; the recipe is VjepaConfig, the run PretrainConfig."""
    name = "vjepa"

    def __init__(self, cfg: PretrainConfig, vjepa: VjepaConfig | None = None):
        self.cfg, self.vj = cfg, vjepa or VjepaConfig()
        v = self.vj
        self.betas = (v.beta1, v.beta2)
        if v.mask_group < 1:
            raise BadInput(f"VjepaConfig.mask_group must be at least 1 clip, got {v.mask_group}")
        self.kinds = (MaskKind(v.short_blocks, v.short_scale, v.aspect_min, v.aspect_max),
                      MaskKind(v.long_blocks, v.long_scale, v.aspect_min, v.aspect_max))

    def configs(self) -> tuple:
        return (self.cfg, self.vj)

    def build_model(self, device) -> torch.nn.Module:
        cfg, v = self.cfg, self.vj
        torch.manual_seed(cfg.seed)
        model = models.build(models.encoder_name(cfg.model, "pretrain_vjepa"), predictor_dim=v.predictor_dim,
                      predictor_depth=v.predictor_depth, num_mask_kinds=len(self.kinds), loss_exp=v.loss_exp,
                      num_frames=cfg.num_frames, img_size=cfg.input_size, grad_checkpointing=cfg.grad_checkpointing)
        return model.to(device)

    def adamw_groups(self, model) -> list[dict]:
        """app/vjepa/utils.py `init_opt`: decay on every non-bias non-1-D tensor."""
        return param_groups(model, self.vj.weight_decay)

    def schedule(self, steps_per_epoch: int) -> dict[str, np.ndarray]:
        """`init_opt`'s lr, weight-decay and EMA-momentum schedules over the stretched run (ipe_scale), lrs scaled
        from per-256 values like VideoMAE's. Also fixes the warm-up that gradient clipping waits for, and keeps the
        momenta that `after_step` uses (the engine calls this once, before the first step)."""
        cfg, v = self.cfg, self.vj
        total = cfg.epochs * steps_per_epoch
        self.warmup = int(round(v.warmup_fraction * total))
        lrs = [scaled_lr(x, cfg.batch_size) for x in (v.start_lr, v.base_lr, v.min_lr)]
        self.momentum = momentum_schedule(v.ema_start, v.ema_end, total, v.schedule_stretch)
        return {"lr": warmup_cosine(*lrs, total, self.warmup, v.schedule_stretch),
                "weight_decay": cosine_weight_decay(v.weight_decay, v.final_weight_decay, total, v.schedule_stretch),
                "momentum": self.momentum}

    def masks(self, batch: int, window, step: int, device) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """This rank's masks of `step`: its `batch` clips are positions [rank * batch, (rank + 1) * batch) of the
        global batch (StepSampler), cut per group of `mask_group` clips; each group is drawn from (seed, step,
        group), so the masks are the same after a resume and whatever the number of processes."""
        start = dist.rank() * batch
        return sample_masks(window, self.kinds, lambda key: sample_generator(self.cfg.seed, step, key, MASK_STREAM),
                            total=batch * dist.world_size(), group=self.vj.mask_group, start=start, stop=start + batch,
                            device=device)

    def loss(self, net, model, videos: torch.Tensor, mask: torch.Tensor, step: int) -> torch.Tensor:
        """The loader's tube mask is not used (it is drawn anyway, so crops equal VideoMAE's for a seed)."""
        return net(videos, self.masks(videos.shape[0], model.window, step, videos.device))

    def clip_gradients(self, model, step: int) -> None:
        """train.py clips encoder and predictor norms separately, and only after the warm-up (`epoch > warmup`;
        here from the first step after it)."""
        if self.vj.clip_grad > 0 and step >= self.warmup:
            torch.nn.utils.clip_grad_norm_(model.encoder.parameters(), self.vj.clip_grad)
            torch.nn.utils.clip_grad_norm_(model.predictor.parameters(), self.vj.clip_grad)

    def after_step(self, model, step: int) -> None:
        ema_update(model.target_encoder, model.encoder, float(self.momentum[step]))


OBJECTIVES = {"videomae": VideoMAE, "vjepa": VJEPA}


def build(cfg: PretrainConfig, vjepa: VjepaConfig | None = None):
    """The objective named by cfg.objective."""
    if cfg.objective not in OBJECTIVES:
        raise BadInput(f"unknown objective {cfg.objective!r}; choose from {', '.join(OBJECTIVES)}")
    return OBJECTIVES[cfg.objective](cfg, vjepa)
