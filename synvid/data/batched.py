"""Pre-training batches rendered on the training device (target: batched on CUDA, within 5% of the compute-only
rate): `PretrainConfig.render_device = "device"`.

The work of one sample is split in two. The CPU half (`ClipPlans`, a Dataset run by DataLoader workers so it
overlaps the previous step) draws exactly what SyntheticClips + PretrainDataset draw for the same StepSampler key
(epoch, i): the video id (draw = epoch * epoch_size + i), its shapes, the 16 frames at stride 4 from the start of rng
stream 3, the MultiScaleCrop box and the tube mask from sample_generator(seed, epoch, i, 2). The pixel half
(`DeviceBatches.batch`) renders the whole batch with synvid.render.batch.render_shapes, crops and resizes it
(one interpolate per distinct crop size) and normalises it, all on the device.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from synvid import progression
from synvid.config import RenderConfig
from synvid.data.sampling import sample_generator
from synvid.errors import BadInput
from synvid.models.registry import patch_size
from synvid.models.videomae import token_window, tube_mask
from synvid.render import batch as render_batch
from synvid.render.stream import clip_plan
from synvid.transforms import MultiScaleCrop, normalize

BACKGROUNDS = ("black", "color")      # what render_shapes draws; 'image' needs the texture source (CPU path)


def device_datasets() -> tuple[str, ...]:
    """Names render_device='device' accepts: the untextured shape sets (NAMES[0:5] and their _slow ablations)."""
    return tuple(n for n, s in progression.DATASETS.items() if s.texture is None and not s.full_frame)


class ClipPlans(torch.utils.data.Dataset):
    """Everything random about sample (epoch, i), as arrays: shapes [N, ...], frames [T], background [3],
    crop (x, y, w, h), mask [N tokens]. Keys come from StepSampler, so order and resume are the loader path's."""

    def __init__(self, name: str, *, pretrain_cfg, render_cfg: RenderConfig | None = None, size: int = 256):
        if name not in progression.DATASETS:
            raise BadInput(f"unknown dataset {name!r}; on-the-fly names: {', '.join(progression.DATASETS)}")
        if name not in device_datasets():
            raise BadInput(f"render_device='device' renders the shape datasets only "
                           f"({', '.join(device_datasets())}); {name} is textured: use --render-device loader "
                           "(DataLoader workers)")
        self.cfg = render_cfg or RenderConfig()
        self.bg = progression.resolve_background(name, self.cfg)
        if self.bg not in BACKGROUNDS:
            raise BadInput(f"render_device='device' draws the {' and '.join(BACKGROUNDS)} backgrounds, not "
                           f"{self.bg!r}: use --render-device loader")
        if size % render_batch.TILE:
            raise BadInput(f"render_device='device' needs a render size that is a multiple of "
                           f"{render_batch.TILE}, got {size}")
        p = pretrain_cfg
        self.name, self.size, self.seed, self.epoch_size = name, size, p.seed, self.cfg.num_videos   # as SyntheticClips
        self.t, self.stride, self.mask_ratio = p.num_frames, p.sampling_rate, p.mask_ratio
        self.crop = MultiScaleCrop(p.input_size)
        self.window = token_window(p.num_frames, p.input_size, patch_size(p.model))

    def __len__(self) -> int:
        return self.epoch_size

    def __getitem__(self, key) -> dict:
        epoch, i = key
        index, frames = clip_plan(self.name, epoch * self.epoch_size + int(i), num_frames=self.t,
                                  sampling_rate=self.stride, seed=self.seed, cfg=self.cfg)
        g = sample_generator(self.seed, epoch, i, 2)      # PretrainDataset: crop first, then mask, one generator
        crop = self.crop.params(self.size, self.size, g)
        mask = tube_mask(1, self.window, self.mask_ratio, generator=g)[0]
        return dict(shapes=render_batch.clip_shapes(self.name, index, self.seed, self.cfg),
                    frames=np.asarray(frames, dtype=np.int64), mask=mask,
                    background=render_batch.background_of(self.name, index, self.seed, self.bg),
                    crop=np.asarray(crop, dtype=np.int64))


def crop_resize(clips: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [B, T, H, W, 3] with per-clip boxes (x, y, w, h) [B, 4] -> uint8 [B, T, size, size, 3]: the
    arithmetic of transforms.MultiScaleCrop (bilinear + antialias, round, clamp), one call per distinct (w, h)."""
    b, t = clips.shape[:2]
    out = torch.empty(b, t, size, size, 3, dtype=torch.uint8, device=clips.device)
    boxes = boxes.tolist()
    for w, h in sorted({(w, h) for _, _, w, h in boxes}):
        ids = [k for k, (_, _, bw, bh) in enumerate(boxes) if (bw, bh) == (w, h)]
        x = torch.stack([clips[k, :, boxes[k][1]:boxes[k][1] + h, boxes[k][0]:boxes[k][0] + w] for k in ids])
        x = x.reshape(len(ids) * t, h, w, 3).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        x = x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        out[torch.as_tensor(ids, device=clips.device)] = x.reshape(len(ids), t, size, size, 3)
    return out


class DeviceBatches:
    """The on-device data source of Trainer: `len` clips per epoch like SyntheticClips; `batch(plans)` turns a
    collated batch of ClipPlans into (videos float [B, 3, T, S, S], mask bool [B, N]) on `device`."""

    def __init__(self, plans: ClipPlans, device):
        self.plans, self.device = plans, torch.device(device)

    def __len__(self) -> int:
        return len(self.plans)

    def clips(self, plans: dict) -> torch.Tensor:
        """Raw uint8 clips [B, T, S, S, 3] on the device (what SyntheticClips returns, before the crop)."""
        sh = {k: v.to(self.device, non_blocking=True) for k, v in plans["shapes"].items()}
        return render_batch.render_shapes(sh, plans["background"], plans["frames"], self.plans.size)

    def batch(self, plans: dict) -> tuple[torch.Tensor, torch.Tensor]:
        videos = normalize(crop_resize(self.clips(plans), plans["crop"], self.plans.crop.size))
        mask = plans["mask"].to(self.device, non_blocking=True)
        if self.device.type == "cuda":   # kernels are asynchronous: wait, so StepTimer books rendering as data time
            torch.cuda.synchronize(self.device)
        return videos, mask
