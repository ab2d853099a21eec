"""Pink-noise maps of the StyleGAN texture generators (TEXTURES.md §2.2 "Pink-noise map", §2.5 High-freq).

Split in two so that a batch is cheap on a GPU while texture k still depends on (seed, k) only:
`draw_pink` takes the random numbers of one map from the texture's CPU generator (alpha, the 513^2 phases,
the 4x4 Laplace envelope); `pink_maps` turns a batch of those recipes into maps on any device (power law,
inverse FFT, envelope, normalisation). CPU and CUDA maps differ by float rounding only.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def draw_pink(n: int, g: torch.Generator, envelope: bool = True) -> dict:
    """The random part of one n x n map: alpha ~ U(0.5, 1.5), phases U(0, 2 pi), Laplace(0, 1) 4x4 envelope."""
    alpha = 0.5 + float(torch.rand((), generator=g, dtype=torch.float64))
    phase = (torch.rand(n + 1, n + 1, generator=g, dtype=torch.float64) * (2 * math.pi)).float()
    lap = None
    if envelope:
        u = torch.rand(4, 4, generator=g, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
        lap = torch.distributions.Laplace(0.0, 1.0).icdf(u).float()
    return {"n": n, "alpha": alpha, "phase": phase, "lap": lap}


def pink_maps(recipes: list[dict], device="cpu") -> torch.Tensor:
    """Maps [B, n, n] (std 1) of recipes of one size: amplitude 1/r^alpha on a (n+1)^2 grid over [-1, 1]^2
    (DC 0, symmetrised), antisymmetric phases, real part of the inverse FFT cropped to n^2, mean removed,
    times the bicubic-resized envelope (a stand-in for Lanczos, §2.2), divided by its std."""
    n = recipes[0]["n"]
    ax = torch.linspace(-1, 1, n + 1, device=device)
    r = torch.sqrt(ax[None, :] ** 2 + ax[:, None] ** 2)
    r[n // 2, n // 2] = 1e-5
    alpha = torch.tensor([p["alpha"] for p in recipes], device=device)[:, None, None]
    amp = r[None] ** -alpha
    amp[:, n // 2, n // 2] = 0
    amp = amp + amp.flip(1, 2)
    phase = torch.stack([p["phase"] for p in recipes]).to(device)
    phase = phase - phase.flip(1, 2)
    spectrum = torch.fft.ifftshift(torch.polar(amp, phase), dim=(-2, -1))
    field = torch.fft.ifft2(spectrum).real[:, :n, :n]
    # Reductions one map at a time: a batched reduction splits over threads by batch size (measured: the
    # mean moved by 2e-10 with 2 threads), and a texture must not depend on its batch.
    field = field - torch.stack([f.mean() for f in field])[:, None, None]
    if recipes[0]["lap"] is not None:
        lap = torch.stack([p["lap"] for p in recipes]).to(device)[:, None]
        field = field * F.interpolate(lap, size=(n, n), mode="bicubic", align_corners=False)[:, 0]
    return field / torch.stack([f.std() for f in field])[:, None, None]


def layer_noise(draws: list[dict], device="cpu") -> list[torch.Tensor]:
    """Per conv layer, strength x noise [B, 1, res, res]: Oriented area-downsamples one shared 2S x 2S map
    (`--same_noise_map`, §2.2 step 7); High-freq has one envelope-free map per layer (§2.5)."""
    shared = pink_maps([d["pink"] for d in draws], device)[:, None] if draws[0]["pink"] is not None else None
    out = []
    for j, (res, _, _) in enumerate(draws[0]["layout"]):
        strength = torch.tensor([float(d["layers"][j]["strength"]) for d in draws], device=device)
        if shared is not None:
            noise = F.adaptive_avg_pool2d(shared, res)
        else:
            noise = pink_maps([d["layers"][j]["pink"] for d in draws], device)[:, None]
        out.append(strength[:, None, None, None] * noise)
    return out
