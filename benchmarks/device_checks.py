"""Correctness of the accelerator paths that CI (CPU only) never runs: the device result against the CPU one.

    python benchmarks/device_checks.py --device cuda     # prints one PASS/FAIL line per check, exits 1 on a FAIL

Checks: on-device shape rendering of pre-training (ClipPlans + DeviceBatches.clips) vs the numba CPU renderer; StyleGAN-Oriented textures on the device
vs CPU; a tiny pre-training step in bf16 (finite loss, falls on a repeated batch); on-device pre-training batches vs
the DataLoader path; a tiny classifier's logits on the device vs CPU.
"""
import argparse
import sys

import torch

from synvid import progression
from synvid.config import RenderConfig

RENDER = RenderConfig(num_shapes=120)


def check_render(device):
    """The raw clips of the on-device pre-training path against the DataLoader workers' (numba) clips."""
    from torch.utils.data import default_collate
    from synvid.config import PretrainConfig, resolve
    from synvid.data.batched import ClipPlans, DeviceBatches
    from synvid.render.stream import SyntheticClips
    cfg = resolve(PretrainConfig, "smoke", num_frames=4)
    ok = []
    for name in progression.NAMES[:5]:
        plans = ClipPlans(name, pretrain_cfg=cfg, render_cfg=RENDER, size=128)
        dev = DeviceBatches(plans, device).clips(default_collate([plans[(0, i)] for i in range(2)])).cpu()
        loader = SyntheticClips(name, num_frames=cfg.num_frames, sampling_rate=cfg.sampling_rate, seed=cfg.seed,
                                size=128, cfg=RENDER)
        cpu = torch.stack([loader[i] for i in range(2)])
        ok.append((dev == cpu).all(-1).float().mean().item())
    return min(ok) >= 0.999, f"on-device clips vs numba: min pixel agreement {min(ok):.5f} (need >= 0.999)"


def check_textures(device):
    from synvid.textures.generated import generate
    dev = generate("stylegan", [0, 5, 9], size=64, device=device).cpu().int()
    cpu = generate("stylegan", [0, 5, 9], size=64).int()
    diff = (dev - cpu).abs()
    return diff.float().mean().item() < 1.0, f"stylegan device vs cpu: mean |diff| {diff.float().mean():.3f}, max {diff.max()}"


def check_pretrain_step(device):
    from synvid.models import build, pixel_targets, pretrain_loss, tube_mask
    torch.manual_seed(0)
    model = build("pretrain_videomae_tiny_patch16_224", num_frames=4, img_size=32).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    videos = torch.randn(4, 3, 4, 32, 32, device=device)
    mask = tube_mask(4, model.window, 0.75, generator=torch.Generator().manual_seed(0)).to(device)
    losses = []
    for _ in range(20):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            pred = model(videos, mask)
        loss = pretrain_loss(pred.float(), pixel_targets(videos, mask))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    ok = all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    return ok, f"bf16 pre-training step: loss {losses[0]:.4f} -> {losses[-1]:.4f}"


def check_device_batches(device):
    from synvid.config import resolve, PretrainConfig
    from synvid.engine.pretrain import build_dataset
    cfg = resolve(PretrainConfig, "smoke", render_device="device")
    render = RenderConfig(num_shapes=20, size=32)
    data = build_dataset(cfg, dataset="accelerating_transforming_shapes", render_size=32,
                         synthetic=dict(cfg=render), device=device)
    loader = build_dataset(resolve(PretrainConfig, "smoke"), dataset="accelerating_transforming_shapes",
                           render_size=32, synthetic=dict(cfg=render))
    return _compare_batches(data, loader, device)


def _compare_batches(device_data, loader_data, device):
    """The same (epoch, index) keys through both paths: the videos must agree (a few boundary pixels may differ)."""
    from torch.utils.data import default_collate
    keys = [(0, i) for i in range(4)]
    plans = default_collate([device_data.plans[k] for k in keys])
    dv, dm = device_data.batch(plans)
    lv = torch.stack([loader_data[k][0] for k in keys])
    lm = torch.stack([loader_data[k][1] for k in keys])
    close = torch.isclose(dv.float().cpu(), lv.float(), atol=1e-3).float().mean().item()
    return close >= 0.999 and torch.equal(dm.cpu(), lm), f"on-device batches vs loader: {close:.5f} of values agree"


def check_classifier(device):
    from synvid.models import build
    torch.manual_seed(0)
    model = build("vit_tiny_patch16_224", num_classes=5, num_frames=4, img_size=32).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        cpu = model(x)
        dev = model.to(device)(x.to(device)).cpu()
    err = (cpu - dev).abs().max().item()
    return err < 1e-3, f"classifier logits device vs cpu: max |diff| {err:.2e}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(p.parse_args().device)
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}), "
          f"torch {torch.__version__}")
    failed = 0
    for check in (check_render, check_textures, check_pretrain_step, check_device_batches, check_classifier):
        try:
            ok, text = check(device)
        except Exception as e:          # a crash is a failed check; keep going to report the others
            ok, text = False, f"{type(e).__name__}: {e}"
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {check.__name__}: {text}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
