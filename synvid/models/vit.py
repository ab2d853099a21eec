"""ViT building blocks for video (PROTOCOLS §2.1; VM `modeling_finetune.py`), over F.scaled_dot_product_attention."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from synvid.errors import BadInput

LN_EPS = 1e-6  # VM: partial(nn.LayerNorm, eps=1e-6) for blocks and final norms


def sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """Fixed 1-D sinusoid table [1, N, D] over the flattened token index (VM `get_sinusoid_encoding_table`).

    Angle for position p and channel j is p / 10000^(2*floor(j/2)/D); even channels sin, odd channels cos.
    Computed in float64 as VM does with numpy, then cast to float32.
    """
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    table = torch.empty_like(angle)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.float()[None]


class PatchEmbed(nn.Module):
    """Conv3d tubelet embedding: [B,3,T,H,W] -> [B, N, D], token index (t*H' + h)*W' + w (PROTOCOLS §2.1)."""

    def __init__(self, dim: int, patch: int = 16, tubelet: int = 2, in_chans: int = 3):
        super().__init__()
        self.patch, self.tubelet = patch, tubelet
        self.proj = nn.Conv3d(in_chans, dim, kernel_size=(tubelet, patch, patch), stride=(tubelet, patch, patch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, t, h, w = x.shape
        if t % self.tubelet or h % self.patch or w % self.patch:
            raise BadInput(f"input {tuple(x.shape)} is not divisible into "
                           f"{self.tubelet}x{self.patch}x{self.patch} tubelets")
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with bias-free qkv plus learnable q_bias/v_bias (key bias fixed at 0, VM)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise BadInput(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """[B,N,D] -> q, k, v each [B, heads, N, D/heads]."""
        bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias)
        b, n, _ = x.shape
        qkv = qkv.reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv_heads(x)
        out = F.scaled_dot_product_attention(q, k, v)  # default scale head_dim^-0.5, as VM
        return self.proj(out.transpose(1, 2).flatten(2))


class Mlp(nn.Module):
    def __init__(self, dim: int, ratio: float = 4.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, int(dim * ratio))
        self.fc2 = nn.Linear(int(dim * ratio), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth per sample (timm semantics: scale kept paths by 1/(1-p))."""
    if p == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - p)
    return x * keep / (1 - p)


class Block(nn.Module):
    """Pre-norm transformer block; init_values=0 in VM, so no layer-scale."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, drop_path: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, mlp_ratio)
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class Transformer(nn.Module):
    """A stack of blocks with linearly rising drop path and optional activation checkpointing."""

    def __init__(self, dim: int, depth: int, heads: int, drop_path: float = 0.0, grad_checkpointing: bool = False):
        super().__init__()
        rates = torch.linspace(0, drop_path, depth).tolist() if depth > 1 else [drop_path] * depth
        self.blocks = nn.ModuleList(Block(dim, heads, drop_path=r) for r in rates)
        self.grad_checkpointing = grad_checkpointing

    def run_blocks(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return x


def init_weights(module: nn.Module, linear: str) -> None:
    """VM init: Linear xavier-uniform (pre-training, `modeling_pretrain.py`) or timm trunc-normal 0.02
    (fine-tuning, `modeling_finetune.py` imports timm's `trunc_normal_`); zero bias; LN 1/0."""
    if linear not in ("xavier", "trunc_normal"):
        raise BadInput(f"linear init must be 'xavier' or 'trunc_normal', got {linear!r}")
    for m in module.modules():
        if isinstance(m, nn.Linear):
            if linear == "xavier":
                nn.init.xavier_uniform_(m.weight)
            else:
                timm_trunc_normal(m.weight, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def trunc_normal(t: torch.Tensor, std: float) -> torch.Tensor:
    """VM `modeling_pretrain.py`'s local `trunc_normal_`: normal(0, std) truncated at +-1 std (std ~0.54 x std).
    Pre-training only (the mask token)."""
    return nn.init.trunc_normal_(t, std=std, a=-std, b=std)


def timm_trunc_normal(t: torch.Tensor, std: float) -> torch.Tensor:
    """timm `trunc_normal_(t, std=std)` as VM `modeling_finetune.py` calls it: truncated at a=-2, b=2 in absolute
    units, so at std 0.02 it is N(0, 0.02) in effect (the cut lies 100 std out)."""
    return nn.init.trunc_normal_(t, std=std, a=-2.0, b=2.0)
