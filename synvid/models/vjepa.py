"""V-JEPA pre-training model (Bardes et al. 2024, "Revisiting Feature Prediction for Learning Visual
Representations from Video"; official `facebookresearch/jepa`: app/vjepa/train.py, src/models/predictor.py).

The context encoder is our VideoMAE encoder (same ViT, tubelet 2, patch 16, fixed 1-D sinusoid table), so its
weights load into `vit_*_patch16_224` classifiers exactly as a VideoMAE encoder's do. The target encoder is an EMA
copy without gradients; the predictor is a narrow ViT over context tokens plus learnable mask tokens.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .videomae import Encoder, token_window
from synvid.errors import BadInput
from .vit import LN_EPS, Transformer, init_weights, sinusoid_table


def gather_tokens(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """[B, N, D] and int64 [B, K] -> [B, K, D] (official src/masks/utils.py `apply_masks`)."""
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def jepa_loss(preds: list[torch.Tensor], targets: list[torch.Tensor], loss_exp: float = 1.0) -> torch.Tensor:
    """train.py `loss_fn`: mean(|z - h|^p) / p per mask, averaged over masks (p = loss_exp = 1: L1). float32."""
    if len(preds) != len(targets) or not preds:
        raise BadInput(f"need one target per prediction, got {len(preds)} and {len(targets)}")
    total = sum(torch.mean((z.float() - h.float()).abs() ** loss_exp) / loss_exp for z, h in zip(preds, targets))
    return total / len(preds)


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """train.py step 3: target <- m * target + (1 - m) * online, parameter by parameter."""
    t_params, o_params = list(target.parameters()), [p.detach() for p in online.parameters()]
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, o_params, alpha=1.0 - momentum)


def momentum_schedule(start: float, end: float, total_steps: int, stretch: float = 1.0) -> list[float]:
    """train.py `momentum_scheduler`: m_i = start + i * (end - start) / (total * stretch) for step i (0-based).
    With the official ipe_scale 1.25 the run stops at 80% of the ramp (0.998 -> 0.9996, not 1.0)."""
    span = total_steps * stretch
    return [start + i * (end - start) / span for i in range(total_steps)]


class Predictor(Transformer):
    """src/models/predictor.py `VisionTransformerPredictor` with mask tokens (use_mask_tokens, one per mask kind,
    zero-initialised). Names follow the official state_dict (predictor_embed, mask_tokens.i, predictor_norm,
    predictor_proj); the blocks are our VideoMAE blocks and the positions our fixed 1-D table (official: 3-D)."""

    def __init__(self, embed_dim, dim, depth, heads, num_patches, num_mask_kinds=2, grad_checkpointing=False):
        super().__init__(dim, depth, heads, 0.0, grad_checkpointing)
        self.predictor_embed = nn.Linear(embed_dim, dim)
        self.mask_tokens = nn.ParameterList(nn.Parameter(torch.zeros(1, 1, dim)) for _ in range(num_mask_kinds))
        self.predictor_norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.predictor_proj = nn.Linear(dim, embed_dim)
        self.register_buffer("pos_table", sinusoid_table(num_patches, dim), persistent=False)

    def forward(self, ctx: torch.Tensor, ctx_idx: torch.Tensor, tgt_idx: torch.Tensor, kind: int) -> torch.Tensor:
        """ctx [B, K_ctx, D_enc] at token indices ctx_idx [B, K_ctx]; returns predictions [B, K_tgt, D_enc]."""
        x = self.predictor_embed(ctx)
        pos = self.pos_table.to(x.dtype).expand(x.shape[0], -1, -1)
        x = x + gather_tokens(pos, ctx_idx)
        queries = self.mask_tokens[kind].to(x.dtype) + gather_tokens(pos, tgt_idx)
        x = self.run_blocks(torch.cat([x, queries], dim=1))
        return self.predictor_proj(self.predictor_norm(x[:, ctx.shape[1]:]))


class PretrainVJEPA(nn.Module):
    """model(videos [B,3,T,H,W], masks [(ctx_idx, tgt_idx) per mask kind]) -> the V-JEPA loss (scalar)."""

    def __init__(self, *, depth, dim, heads, predictor_dim=384, predictor_depth=12, num_mask_kinds=2,
                 loss_exp=1.0, num_frames=16, img_size=224, patch=16, tubelet_size=2, drop_path=0.0,
                 grad_checkpointing=False):
        super().__init__()
        self.patch, self.tubelet, self.loss_exp = patch, tubelet_size, loss_exp
        self.window = token_window(num_frames, img_size, patch, tubelet_size)
        n = self.window[0] * self.window[1] * self.window[2]
        self.encoder = Encoder(dim, depth, heads, patch, tubelet_size, n, drop_path, grad_checkpointing)
        # app/vjepa/utils.py init_video_model: predictor heads = encoder heads
        self.predictor = Predictor(dim, predictor_dim, predictor_depth, heads, n, num_mask_kinds, grad_checkpointing)
        self.num_patches = n
        # init_video_model: every Linear trunc-normal 0.02, zero bias, LN 1/0 (it re-inits after the models'
        # own _rescale_blocks, so no depth rescaling survives); patch-embed Conv3d trunc-normal 0.02
        init_weights(self, "trunc_normal")
        nn.init.trunc_normal_(self.encoder.patch_embed.proj.weight, std=0.02)
        nn.init.zeros_(self.encoder.patch_embed.proj.bias)
        self.target_encoder = copy.deepcopy(self.encoder)  # train.py: deepcopy(encoder), no gradient
        self.target_encoder.requires_grad_(False)

    @torch.no_grad()
    def targets(self, videos: torch.Tensor, masks) -> list[torch.Tensor]:
        """train.py `forward_target`: target encoder on the whole clip, layer-normed over features, gathered."""
        h = self.target_encoder.run_blocks(self.target_encoder.embed(videos))
        h = self.target_encoder.norm(h)
        h = F.layer_norm(h, (h.shape[-1],))
        return [gather_tokens(h, tgt) for _, tgt in masks]

    def context(self, videos: torch.Tensor, ctx_idx: torch.Tensor) -> torch.Tensor:
        """Context encoder on the kept tokens only: [B, K_ctx, D] after the final norm."""
        x = gather_tokens(self.encoder.embed(videos), ctx_idx)
        return self.encoder.norm(self.encoder.run_blocks(x))

    def predictions(self, videos: torch.Tensor, masks) -> list[torch.Tensor]:
        """train.py `forward_context`: one context pass and one predictor pass per mask kind."""
        return [self.predictor(self.context(videos, ctx), ctx, tgt, kind) for kind, (ctx, tgt) in enumerate(masks)]

    def forward(self, videos: torch.Tensor, masks) -> torch.Tensor:
        return jepa_loss(self.predictions(videos, masks), self.targets(videos, masks), self.loss_exp)

    def no_weight_decay(self) -> set[str]:
        return set()  # init_opt decays every non-bias, non-1-D tensor, the [1,1,D] mask tokens included

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.encoder.grad_checkpointing = self.predictor.grad_checkpointing = enable
