"""Untrained StyleGAN2 synthesis network with randomised oriented filters (StyleGAN-Oriented, Baradad 2021).

Plain-torch rewrite of TEXTURES.md §2: skip architecture 4..S, ReLU*sqrt(2), mapping bypassed (w = lrelu(z)),
per-forward random filter subsets / per-input-channel filters / output signs / biases, one shared pink noise
map. The modulated conv uses the exact rank-1 form of §2.4 (inputs summed by filter index, one 40->1 conv with
the fixed bank, demodulation, broadcast with signs). All randomness of texture k is drawn from (seed, k) on
CPU, so a texture is the same alone or in a batch. `variant="highfreq"` is StyleGAN-High-freq (§2.5, Table 10).
Dynamic textures (Section 5.2, Table 3) freeze every draw and walk the latent: z_t = z_{t-1} + delta_t.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from synvid.textures.rng import torch_gen
from synvid.textures.stylegan_bank import highfreq_bank, oriented_bank

_FIR = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 4       # per-axis [1,3,3,1]/4: 2-D gain 4 for x2 upsampling
# §2.3: per-channel (mean, std) of the targets, fractions of 255 -> N(mu, sd^2) each.
_COLOUR = [((0.483, 0.145), (0.219, 0.063)), ((0.455, 0.142), (0.213, 0.062)), ((0.401, 0.161), (0.213, 0.069))]


def layout(size: int) -> list[tuple[int, int, bool]]:
    """Conv layers as (resolution, input channels, upsample?); channels = min(32768/res, 512) (§2.1)."""
    if size < 8 or size & (size - 1):
        raise ValueError(f"StyleGAN textures need a power-of-two size >= 8, got {size}")
    ch = lambda r: min(32768 // r, 512)  # noqa: E731
    layers, res = [(4, 512, False)], 8
    while res <= size:
        layers += [(res, ch(res // 2), True), (res, ch(res), False)]
        res *= 2
    return layers


def upsample2d(x: torch.Tensor) -> torch.Tensor:
    """Zero insertion, pad (2, 1), separable [1,3,3,1]/4 FIR, zero outside (as upfirdn2d up=2)."""
    b, c, h, w = x.shape
    up = x.new_zeros(b * c, 1, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x.reshape(b * c, 1, h, w)
    up = F.pad(up, (2, 1, 2, 1))
    fir = _FIR.to(x)
    up = F.conv2d(up, fir.view(1, 1, 1, 4))
    return F.conv2d(up, fir.view(1, 1, 4, 1)).view(b, c, 2 * h, 2 * w)


def pink_noise(n: int, g: torch.Generator, envelope: bool = True) -> torch.Tensor:
    """1/r^alpha noise map n x n, alpha ~ U(0.5, 1.5), times a 4x4 Laplace envelope (bicubic), std 1 (§2.2)."""
    alpha = 0.5 + torch.rand((), generator=g, dtype=torch.float64)
    ax = torch.linspace(-1, 1, n + 1, dtype=torch.float64)
    r = torch.sqrt(ax[None, :] ** 2 + ax[:, None] ** 2)
    r[n // 2, n // 2] = 1e-5
    amp = 1 / r ** alpha
    amp[n // 2, n // 2] = 0
    amp = amp + amp.flip(0, 1)
    phase = torch.rand(n + 1, n + 1, generator=g, dtype=torch.float64) * 2 * math.pi
    phase = phase - phase.flip(0, 1)
    field = torch.fft.ifft2(torch.fft.ifftshift(amp * torch.exp(1j * phase))).real[:n, :n]
    field = field - field.mean()
    if envelope:
        lap = torch.distributions.Laplace(0.0, 1.0).icdf(torch.rand(1, 1, 4, 4, generator=g, dtype=torch.float64)
                                                        .clamp(1e-12, 1 - 1e-12))
        field = field * F.interpolate(lap, size=(n, n), mode="bicubic", align_corners=False)[0, 0]
    return (field / field.std()).float()


def draw(seed: int, k: int, size: int, variant: str = "oriented", frames: int = 1, step: float = 0.1) -> dict:
    """Every random quantity of texture k; `frames` > 1 gives a latent random walk (dynamic textures)."""
    g = torch_gen(seed, k, "stylegan" if variant == "oriented" else "stylegan_highfreq")
    lay = layout(size)
    nlat = len(lay) + 1
    z = torch.randn(nlat, 512, generator=g)
    zs, walk = [z], torch_gen(seed, k, "dynamic")   # separate stream: frame 0 == the static texture k
    for _ in range(frames - 1):     # Section 5.2: z_i = z_{i-1} + delta z_i (delta smaller Gaussian noise)
        zs.append(zs[-1] + step * torch.randn(nlat, 512, generator=walk))
    ws = torch.stack([F.leaky_relu(z, 0.2) for z in zs])                    # [T, nlat, 512]
    bank = oriented_bank() if variant == "oriented" else highfreq_bank()
    d = {"const": torch.randn(1, 512, 4, 4, generator=g), "layers": [], "rgb": [], "bank": bank}
    shared = pink_noise(2 * size, g) if variant == "oriented" else None
    li = 0
    for j, (res, cin, up) in enumerate(lay):
        cout = min(32768 // res, 512)
        a = torch.randn(cin, 512, generator=g)
        styles = 1 + ws[:, li] @ a.T / math.sqrt(512)                       # [T, cin]
        if variant == "oriented":
            nsub = int(torch.randint(5, 41, (), generator=g))
            subset = torch.randperm(40, generator=g)[:nsub]
            pick = subset[torch.randint(0, nsub, (cin,), generator=g)]
            bias = torch.rand(cout, generator=g) * 0.4 - 0.2
            noise = F.adaptive_avg_pool2d(shared[None, None], res)[0, 0]
        else:
            pick = torch.randint(0, 40, (cin,), generator=g)
            bias = torch.zeros(cout)
            noise = pink_noise(res, g, envelope=False)
        sign = torch.where(torch.rand(cout, generator=g) < 0.5, -1.0, 1.0)
        strength = torch.rand((), generator=g) * 0.3
        d["layers"].append({"styles": styles, "pick": pick, "bias": bias, "sign": sign,
                            "noise": strength * noise, "up": up})
        li += 1
        if j == 0 or not up:        # a block ends after its last conv: ToRGB uses the next latent
            rgb_w = torch.randn(3, cout, generator=g)
            rgb_s = (1 + ws[:, li] @ torch.randn(cout, 512, generator=g).T / math.sqrt(512)) / math.sqrt(cout)
            d["rgb"].append((rgb_w, rgb_s))
    d["colour"] = [(mu + s_mu * torch.randn((), generator=g), sd + s_sd * torch.randn((), generator=g))
                   for (mu, s_mu), (sd, s_sd) in _COLOUR]
    return d


def _conv(x: torch.Tensor, layer: dict, t: int, bank: torch.Tensor) -> torch.Tensor:
    """Rank-1 modulated conv (§2.4) for one image: x [C_in, H, W] -> activations [C_out, H', W']."""
    s = layer["styles"][t].to(x)
    pick = layer["pick"].to(x.device)
    z = x.new_zeros(40, *x.shape[1:]).index_add_(0, pick, x * s[:, None, None])
    if layer["up"]:
        z = upsample2d(z[None])[0]
    y = F.conv2d(z[None], bank.to(x)[None, :, :, :], padding=1)[0]            # [1, H, W]
    norms = bank.flatten(1).norm(dim=1).to(x)[pick]
    y = y / torch.sqrt((s ** 2 * norms ** 2).sum() + 1e-8)
    pre = layer["sign"].to(x)[:, None, None] * y + layer["noise"].to(x) + layer["bias"].to(x)[:, None, None]
    return math.sqrt(2) * F.relu(pre)


def forward(d: dict, t: int = 0, device="cpu") -> torch.Tensor:
    """Raw synthesis output [3, S, S] of frame t of one drawn texture."""
    x = d["const"][0].to(device)
    img, r = None, 0
    for j, layer in enumerate(d["layers"]):
        x = _conv(x, layer, t, d["bank"])
        if j == 0 or not layer["up"]:
            w, s = d["rgb"][r]
            r += 1
            out = torch.einsum("oc,chw->ohw", w.to(x) * s[t].to(x)[None], x)
            img = out if img is None else upsample2d(img[None])[0] + out
    return img


def to_uint8(raw: torch.Tensor, d: dict) -> torch.Tensor:
    """§2.3: per-channel standardise, rescale to the drawn (mu, sigma), clip, truncate -> uint8 [S, S, 3]."""
    mu = raw.mean(dim=(1, 2), keepdim=True)
    sd = raw.std(dim=(1, 2), keepdim=True, unbiased=False).clamp_min(1e-12)
    target = torch.tensor(d["colour"], dtype=raw.dtype, device=raw.device)
    x = (raw - mu) / sd * target[:, 1, None, None] + target[:, 0, None, None]
    return (x.clamp(0, 1) * 255).to(torch.uint8).permute(1, 2, 0)


def generate(ids, *, seed: int = 0, size: int = 256, device="cpu", variant: str = "oriented") -> torch.Tensor:
    """StyleGAN-Oriented (or High-freq) textures for ids -> uint8 [K, size, size, 3]."""
    out = [to_uint8(forward(d, 0, device), d) for d in (draw(seed, int(k), size, variant) for k in ids)]
    return torch.stack(out) if out else torch.empty(0, size, size, 3, dtype=torch.uint8)


def dynamic(k: int, frames: int, *, seed: int = 0, size: int = 256, device="cpu", step: float = 0.1,
            variant: str = "oriented") -> torch.Tensor:
    """A dynamic texture video uint8 [frames, size, size, 3]: all draws frozen, latent random walk."""
    d = draw(seed, int(k), size, variant, frames=frames, step=step)
    return torch.stack([to_uint8(forward(d, t, device), d) for t in range(frames)])
