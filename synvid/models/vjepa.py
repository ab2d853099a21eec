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


def jepa_loss(preds: list[list[torch.Tensor]], targets: list[list[torch.Tensor]],
              loss_exp: float = 1.0) -> torch.Tensor:
    """train.py `loss_fn` over groups of clips: per mask kind, mean(|z - h|^p) / p over each group's [n, K, D]
    (one official GPU's loss: its K is the group's own) weighted by the group's clips n (DDP averages the GPUs'
    gradients, and the official groups are equal), then averaged over kinds (p = loss_exp = 1: L1). float32.
    preds / targets: [kind][group] tensors [n, K, D]."""
    if len(preds) != len(targets) or not preds or any(len(z) != len(h) or not z for z, h in zip(preds, targets)):
        raise BadInput(f"need the same non-empty groups of targets and predictions per mask kind, got "
                       f"{[len(z) for z in preds]} and {[len(h) for h in targets]}")
    total = 0.0
    for zs, hs in zip(preds, targets):
        clips = sum(z.shape[0] for z in zs)
        total = total + sum(z.shape[0] / clips * torch.mean((z.float() - h.float()).abs() ** loss_exp)
                            for z, h in zip(zs, hs)) / loss_exp
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
        """ctx [B, K_ctx, D_enc] at token indices ctx_idx [B, K_ctx]; returns predictions [B, K_tgt, D_enc].

        The residual stream runs in float32 under bf16 autocast, as the official one: there the context tokens get
        their positions added in place (`x +=`, so they stay in the Linear's bf16, rounded once), the mask tokens
        (float32 parameters) plus float32 positions stay float32, and torch.cat promotes both to float32; the
        blocks' Linear layers still compute in bf16 and their outputs are added to the float32 stream."""
        x = self.predictor_embed(ctx)
        pos = self.pos_table.expand(x.shape[0], -1, -1)
        x = (x + gather_tokens(pos, ctx_idx)).to(x.dtype)
        queries = self.mask_tokens[kind] + gather_tokens(pos, tgt_idx)
        x = self.run_blocks(torch.cat([x.to(queries.dtype), queries], dim=1))
        return self.predictor_proj(self.predictor_norm(x[:, ctx.shape[1]:]))


class PretrainVJEPA(nn.Module):
    """model(videos [B,3,T,H,W], masks[kind][group] = (ctx_idx, tgt_idx)) -> the V-JEPA loss (scalar)."""

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
    def target_features(self, videos: torch.Tensor) -> torch.Tensor:
        """train.py `forward_target`: target encoder on the whole clip, layer-normed over features: [B, N, D]."""
        h = self.target_encoder.norm(self.target_encoder.run_blocks(self.target_encoder.embed(videos)))
        return F.layer_norm(h, (h.shape[-1],))

    def context(self, tokens: torch.Tensor, ctx_idx: torch.Tensor) -> torch.Tensor:
        """Context encoder on the kept tokens of embedded clips [B, N, D] only: [B, K_ctx, D] after the final norm."""
        return self.encoder.norm(self.encoder.run_blocks(gather_tokens(tokens, ctx_idx)))

    def predict(self, videos: torch.Tensor, masks) -> tuple[list[list[torch.Tensor]], list[list[torch.Tensor]]]:
        """train.py `forward_context` and `forward_target` per group of clips: (predictions, targets), each
        [kind][group] -> [n, K_tgt, D]. masks[kind] lists (ctx_idx [n, K_ctx], tgt_idx [n, K_tgt]) of consecutive
        groups covering the batch (multiblock.sample_masks). A group's lists have its own lengths, so each group is
        one context-encoder and one predictor pass (one official GPU's); the patch embedding and the target encoder
        run once on the whole batch."""
        tokens, h = self.encoder.embed(videos), self.target_features(videos)
        preds, targets = [], []
        for kind, groups in enumerate(masks):
            sizes = [ctx.shape[0] for ctx, _ in groups]
            if sum(sizes) != videos.shape[0]:
                raise BadInput(f"mask kind {kind}: groups of {sizes} clips do not cover the batch of "
                               f"{videos.shape[0]}")
            z, t, start = [], [], 0
            for ctx, tgt in groups:
                part, start = slice(start, start + ctx.shape[0]), start + ctx.shape[0]
                z.append(self.predictor(self.context(tokens[part], ctx), ctx, tgt, kind))
                t.append(gather_tokens(h[part], tgt))
            preds.append(z)
            targets.append(t)
        return preds, targets

    def forward(self, videos: torch.Tensor, masks) -> torch.Tensor:
        return jepa_loss(*self.predict(videos, masks), self.loss_exp)

    def no_weight_decay(self) -> set[str]:
        return set()  # init_opt decays every non-bias, non-1-D tensor, the [1,1,D] mask tokens included

