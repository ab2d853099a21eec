"""Pre-training (Section 3.2, Table 5, PROTOCOLS §2.2; VM `run_mae_pretraining.py`, `engine_for_pretraining.py`),
one DDP code path from 1 process to N nodes under torchrun; the loop is synvid/engine/loop.py's. The objective
(VideoMAE, the paper's, or V-JEPA) is a pluggable piece: synvid/engine/objectives.py.

A run directory holds config.json (first), log.jsonl, last.pth (every `save_every` steps, atomic) and DONE (last).
Rerunning the same command resumes from last.pth with the same data order, schedule and losses.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from synvid import dist, models
from synvid.config import PretrainConfig, VjepaConfig, to_dict
from synvid.data.batched import ClipPlans, DeviceBatches
from synvid.data.pretrain_data import PretrainDataset, StepSampler, raw_clips
from synvid.engine import loop, objectives
from synvid.errors import BadInput
from synvid.runs import RunDir

# Settings that may change between a run and its resume without changing the result.
RESUME_FREE = {"num_workers", "save_every", "tensorboard", "compile", "grad_checkpointing", "deterministic"}
RENDER_DEVICES = ("loader", "device")


def build_dataset(cfg: PretrainConfig, *, dataset=None, list_file=None, render_size: int = 256,
                  synthetic: dict | None = None, device="cpu", mix_list: str | None = None
                  ) -> PretrainDataset | DeviceBatches:
    """`synthetic`: how a synthetic set is rendered (SyntheticClips' cfg, tex_cfg, imagenet, bank).
    cfg.render_device 'device': a shape set rendered batch by batch on `device` (synvid.data.batched)."""
    if cfg.render_device not in RENDER_DEVICES:
        raise BadInput(f"render_device must be one of {', '.join(RENDER_DEVICES)}, got {cfg.render_device!r}")
    if cfg.render_device == "device":
        if dataset is None or cfg.mix_fraction > 0:
            raise BadInput("render_device='device' renders on-the-fly synthetic sets only; a --list file or a "
                           "--mix-list is decoded by the DataLoader workers (use --render-device loader)")
        render_cfg = (synthetic or {}).get("cfg")
        return DeviceBatches(ClipPlans(dataset, pretrain_cfg=cfg, render_cfg=render_cfg, size=render_size), device)
    clips = raw_clips(dataset, list_file, pretrain_cfg=cfg, size=render_size, mix_list=mix_list, **(synthetic or {}))
    return PretrainDataset(clips, input_size=cfg.input_size, mask_ratio=cfg.mask_ratio, num_frames=cfg.num_frames,
                           patch=models.patch_size(cfg.model), seed=cfg.seed)


class Trainer(loop.TrainLoop):
    """The data of one pre-training run; the objective (objectives.build) gives its model, AdamW groups, schedule,
    loss, clipping and after-step; the loop and its step are loop.TrainLoop's."""

    def __init__(self, cfg: PretrainConfig, run_dir: Path, data: PretrainDataset, config: dict, device, objective):
        super().__init__(cfg, run_dir, config, device, len(data))
        self.data, self.tensorboard, self.objective = data, cfg.tensorboard, objective
        model = objective.build_model(device)
        self.prepare(model, objective.adamw_groups(model), objective.schedule(self.steps_per_epoch),
                     betas=objective.betas)

    def loader(self, stop: int) -> DataLoader:
        """Batches of this rank up to step `stop`; with DeviceBatches, the workers only draw the ClipPlans."""
        sampler = StepSampler(len(self.data), total_batch=self.cfg.batch_size, rank=dist.rank(),
                              world_size=self.world, seed=self.cfg.seed, start_step=self.start, total_steps=stop)
        workers = self.cfg.num_workers
        data = self.data.plans if isinstance(self.data, DeviceBatches) else self.data
        return DataLoader(data, batch_size=self.per_rank, sampler=sampler, num_workers=workers,
                          pin_memory=self.device.type == "cuda", drop_last=True, persistent_workers=workers > 0,
                          prefetch_factor=4 if workers > 0 else None)

    def batches(self, stop: int):
        """{videos, mask} per step: the loader's, or rendered on the device from the loader's ClipPlans
        (the render is inside next(), so StepTimer counts it as data wait)."""
        for batch in self.loader(stop):
            videos, mask = self.data.batch(batch) if isinstance(self.data, DeviceBatches) else batch
            yield {"videos": videos, "mask": mask}

    def loss(self, videos: torch.Tensor, mask: torch.Tensor, step: int) -> torch.Tensor:
        videos = videos.to(self.device, non_blocking=True)
        mask = mask.to(self.device, non_blocking=True)
        return self.objective.loss(self.net, self.model, videos, mask, step)

    def clip_gradients(self, step: int) -> None:
        self.objective.clip_gradients(self.model, step)

    def after_step(self, step: int) -> None:
        self.objective.after_step(self.model, step)


def run_config(sections: list, *, dataset, list_file, mix_list, render_size: int, synthetic: dict | None,
               extra: dict | None) -> dict:
    """The complete resolved configuration of a pre-training run: every setting that changes the data is in it
    (the synthetic set's RenderConfig and TextureConfig, render size, texture bank, ImageNet root, mix list), so
    its hash (config_hash) names what the run computes."""
    synthetic = synthetic or {}
    data = [c for c in (synthetic.get("cfg"), synthetic.get("tex_cfg")) if c is not None]
    return to_dict(*sections, *data, dataset=dataset, list=list_file, mix_list=mix_list, render_size=render_size,
                   bank=str(synthetic.get("bank") or ""), imagenet=str(synthetic.get("imagenet") or ""),
                   **(extra or {}))


def run(cfg: PretrainConfig, out: str | Path, *, dataset=None, list_file=None, render_size: int = 256,
        synthetic: dict | None = None, mix_list: str | None = None, stop_after: int | None = None,
        progress: bool = True, extra: dict | None = None, vjepa: VjepaConfig | None = None) -> dict:
    """Pre-train into `out` (resuming if last.pth exists); returns the results written to DONE.
    `synthetic`: rendering options of an on-the-fly set (build_dataset); recorded in config.json.
    `vjepa`: the V-JEPA recipe when cfg.objective == 'vjepa' (default: VjepaConfig())."""
    device = dist.init_distributed()[3]   # the process group of a torchrun launch (once: a no-op if joined)
    objective = objectives.build(cfg, vjepa)  # an unknown objective fails here, before any work
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # warn_only: some fused CUDA kernels (e.g. SDPA backward) have no deterministic variant; torch warns
        torch.use_deterministic_algorithms(True, warn_only=True)
    data = build_dataset(cfg, dataset=dataset, list_file=list_file, render_size=render_size, synthetic=synthetic,
                         device=device, mix_list=mix_list)
    # clips per epoch: a list's length, or RenderConfig.num_videos for an on-the-fly set (equal compute rule)
    config = run_config(objective.configs(), dataset=dataset, list_file=list_file, mix_list=mix_list,
                        render_size=render_size, synthetic=synthetic,
                        extra={"clips_per_epoch": len(data), "objective": cfg.objective,
                               **(extra or {})})   # RECORDS.md: `objective`
    with RunDir(out, config, free=RESUME_FREE, launch={"world_size": dist.world_size()}) as run_dir:
        if run_dir.done is not None:
            return run_dir.done
        trainer = Trainer(cfg, run_dir.path, data, config, device, objective)
        steps = trainer.fit(stop_after, progress)
        results = {"steps": steps, "total_steps": trainer.total_steps, "final_loss": trainer.last_loss,
                   "steps_per_epoch": trainer.steps_per_epoch, "world_size": trainer.world,
                   "objective": objective.name, "config_hash": run_dir.config_hash}
        if steps == trainer.total_steps:
            run_dir.finish(results)  # DONE last: after the final last.pth
    return results
