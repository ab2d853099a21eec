"""On-device batched pre-training data (render_device='device'), all on CPU: the batches equal
the DataLoader path's for the same StepSampler keys, and a run trains, matches the loader run and resumes exactly."""
import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate

from synvid.config import PretrainConfig, RenderConfig, resolve
from synvid.data.batched import ClipPlans, DeviceBatches, clip_plan, crop_resize, device_datasets
from synvid.data.pretrain_data import PretrainDataset, StepSampler
from synvid.engine.pretrain import build_dataset, run
from synvid.render.stream import SyntheticClips
from synvid.runs import JsonlLog
from synvid.transforms import MultiScaleCrop, normalize

RENDER = resolve(RenderConfig, "smoke", size=32, num_shapes=20)   # 20-24 frames, 8 clips per epoch


def smoke(**kw) -> PretrainConfig:
    kw.setdefault("epochs", 3)
    return resolve(PretrainConfig, "smoke", **kw)


def loader_batch(name, keys, cfg, render):
    """The DataLoader path: SyntheticClips + PretrainDataset, sample by sample."""
    clips = SyntheticClips(name, num_frames=cfg.num_frames,
                           sampling_rate=cfg.sampling_rate, seed=cfg.seed, size=render.size, cfg=render)
    data = PretrainDataset(clips, input_size=cfg.input_size, mask_ratio=cfg.mask_ratio, num_frames=cfg.num_frames,
                           seed=cfg.seed)
    raw, samples = [], []
    for e, i in keys:
        samples.append(data[(e, i)])   # sets the epoch of clips too
        raw.append(clips[i])
    return torch.stack(raw), torch.stack([v for v, _ in samples]), torch.stack([m for _, m in samples])


@pytest.mark.parametrize("name, background", [("static_circles", "black"), ("moving_shapes_slow", "color"),
                                              ("accelerating_transforming_shapes", "black")])
def test_device_batches_equal_the_loader_path(name, background):
    cfg, render = smoke(seed=3), RenderConfig(**{**vars(RENDER), "background": background})
    keys = list(StepSampler(render.num_videos, total_batch=4, rank=0, world_size=1, seed=3, start_step=1,
                            total_steps=5))   # steps 1..4: two epochs of this sampler's order
    plans = ClipPlans(name, pretrain_cfg=cfg, render_cfg=render, size=render.size)
    source = DeviceBatches(plans, "cpu")
    collated = default_collate([plans[k] for k in keys])
    raw, videos, masks = loader_batch(name, keys, cfg, render)
    assert raw.any() and torch.equal(source.clips(collated), raw)          # uint8 frames identical
    got_videos, got_masks = source.batch(collated)
    assert got_videos.shape == (len(keys), 3, cfg.num_frames, cfg.input_size, cfg.input_size)
    assert torch.equal(got_videos, videos) and torch.equal(got_masks, masks)
    assert len(source) == len(SyntheticClips(name, cfg=render)) == render.num_videos == 8


def test_clip_plan_is_synthetic_clips_rule():
    index, frames = clip_plan("moving_circles", 17, num_frames=16, sampling_rate=4, seed=0, cfg=RENDER)
    assert index == 17 and len(frames) == 16 and max(frames) <= 23      # 20-24 frames: start 0, last repeated
    assert frames[:6] == [0, 4, 8, 12, 16, 20] and frames[-1] == frames[6]
    index, frames = clip_plan("moving_circles", 5, num_frames=4, sampling_rate=4, seed=0, cfg=RenderConfig())
    assert 0 <= frames[0] <= 200 - 16 and [b - a for a, b in zip(frames, frames[1:])] == [4, 4, 4]


def test_crop_resize_and_normalize_match_the_per_clip_transforms():
    g = torch.Generator().manual_seed(0)
    clips = torch.randint(0, 256, (5, 3, 48, 48, 3), generator=g, dtype=torch.uint8)
    crop = MultiScaleCrop(32)
    boxes = [crop.params(48, 48, torch.Generator().manual_seed(k)) for k in range(5)]
    assert len({(w, h) for _, _, w, h in boxes}) > 1                     # several crop sizes in one batch
    out = crop_resize(clips, torch.tensor(boxes), 32)
    for k, (x, y, w, h) in enumerate(boxes):
        ref = crop(clips[k], generator=torch.Generator().manual_seed(k))
        assert torch.equal(out[k], ref)
        assert torch.equal(normalize(out)[k], normalize(ref))


def test_only_shape_sets_and_supported_settings_are_accepted():
    names = device_datasets()
    assert set(names) >= {"static_circles", "accelerating_transforming_shapes", "moving_circles_slow"}
    assert not any("textures" in n or "stylegan" in n or "image" in n for n in names)
    with pytest.raises(ValueError, match="textured.*--render-device loader"):
        ClipPlans("accelerating_transforming_textures", pretrain_cfg=smoke(), size=32)
    with pytest.raises(ValueError, match="backgrounds, not 'image'"):
        ClipPlans("moving_shapes", pretrain_cfg=smoke(), render_cfg=RenderConfig(background="image"), size=32)
    with pytest.raises(ValueError, match="multiple of 16"):
        ClipPlans("moving_shapes", pretrain_cfg=smoke(), size=40)
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        ClipPlans("nope", pretrain_cfg=smoke(), size=32)
    with pytest.raises(ValueError, match="--list file"):
        build_dataset(smoke(render_device="device"), list_file="x.csv")
    with pytest.raises(ValueError, match="render_device must be one of"):
        build_dataset(smoke(render_device="gpu"), dataset="moving_shapes")


def losses(run_dir) -> list[float]:
    return [r["loss"] for r in JsonlLog(Path(run_dir) / "log.jsonl").read()]


@pytest.mark.slow
def test_run_matches_the_loader_run_and_resumes_exactly(tmp_path, monkeypatch):
    kw = dict(dataset="moving_shapes", render_size=32, progress=False, synthetic=dict(cfg=RENDER))
    rendered, real = [], DeviceBatches.batch
    monkeypatch.setattr(DeviceBatches, "batch", lambda self, plans: rendered.append(1) or real(self, plans))
    full = run(smoke(render_device="device"), tmp_path / "full", **kw)
    assert len(rendered) == 6                                              # every step rendered by DeviceBatches
    assert full["steps"] == full["total_steps"] == 6 and math.isfinite(full["final_loss"])
    records = JsonlLog(tmp_path / "full" / "log.jsonl").read()
    assert all(0.0 <= r["data_wait"] <= 1.0 and r["clips_per_s"] > 0 for r in records)
    run(smoke(), tmp_path / "loader", **kw)                               # render_device='loader' (default)
    assert losses(tmp_path / "full") == losses(tmp_path / "loader")        # same data, same order, same losses
    part = tmp_path / "part"   # interrupted after 3 steps, resumed with a DataLoader worker drawing the plans
    assert run(smoke(render_device="device"), part, stop_after=3, **kw)["steps"] == 3
    run(smoke(render_device="device", num_workers=1), part, **kw)
    assert losses(part) == losses(tmp_path / "full") and (part / "DONE").exists()


def test_occlusion_cull_keeps_every_pixel(monkeypatch):
    """Pairs hidden under a shape covering their whole tile are dropped before the pixel tests: same pixels."""
    from synvid.render import batch as render_batch
    plans = ClipPlans("moving_transforming_shapes", pretrain_cfg=resolve(PretrainConfig, "paper"), size=64,
                      render_cfg=RenderConfig(num_shapes=500))
    p = default_collate([plans[(0, i)] for i in range(2)])
    real, hidden = render_batch._hidden, []
    monkeypatch.setattr(render_batch, "_hidden", lambda *a: hidden.append(real(*a)) or hidden[-1])
    culled = render_batch.render_shapes(p["shapes"], p["background"], p["frames"], 64)
    assert 0.1 < torch.cat(hidden).float().mean() < 1.0                    # a real share of the pairs is dropped
    monkeypatch.setattr(render_batch, "_hidden", lambda fr, *a: torch.zeros(len(fr), dtype=torch.bool))
    assert torch.equal(culled, render_batch.render_shapes(p["shapes"], p["background"], p["frames"], 64))
