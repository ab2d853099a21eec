"""VideoMAE pre-training model, tube masking and normalised-pixel target (PROTOCOLS §2.1-2.2; VM
`modeling_pretrain.py`, `masking_generator.py`, `engine_for_pretraining.py`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from synvid.errors import BadInput
from synvid.transforms import unnormalize

from .vit import LN_EPS, PatchEmbed, Transformer, init_weights, sinusoid_table, trunc_normal

PATCH, TUBELET = 16, 2                 # Table 5 / VM `modeling_pretrain.py`: 16x16 patches, tubelets of 2 frames


def token_window(num_frames: int, img_size: int, patch: int = PATCH, tubelet: int = TUBELET) -> tuple:
    """Token grid (T', H', W') of a clip: the window tube_mask masks, owned by the model (its `window`)."""
    return num_frames // tubelet, img_size // patch, img_size // patch


def tube_mask(batch: int, window: tuple[int, int, int], ratio: float,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Tube mask bool [B, N] (True = masked), N = T'*H'*W' (VM `TubeMaskingGenerator`).

    Per sample, int(ratio * H'W') spatial patches are masked and the same spatial mask is repeated over all T'
    slots, so every clip has exactly the same number of visible tokens.
    """
    t, h, w = window
    if not 0.0 <= ratio < 1.0:
        raise BadInput(f"mask ratio must be in [0, 1), got {ratio}")
    per_frame = h * w
    n_mask = int(ratio * per_frame)
    order = torch.stack([torch.randperm(per_frame, generator=generator) for _ in range(batch)])
    spatial = order < n_mask  # a uniformly random subset of n_mask positions per sample
    return spatial[:, None, :].expand(batch, t, per_frame).reshape(batch, t * per_frame).contiguous()


def patchify(videos: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """[B,3,T,H,W] -> [B, N, tubelet*patch*patch, 3], tokens in (t,h,w) order, pixels in (dt,dy,dx) order."""
    b, c, t, h, w = videos.shape
    x = videos.reshape(b, c, t // tubelet, tubelet, h // patch, patch, w // patch, patch)
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)  # b, t', h', w', dt, dy, dx, c
    return x.reshape(b, -1, tubelet * patch * patch, c)


@torch.no_grad()
def pixel_targets(videos: torch.Tensor, mask: torch.Tensor, tubelet: int = 2, patch: int = 16) -> torch.Tensor:
    """Normalised-pixel target [B, N_masked, 3*tubelet*patch^2] from ImageNet-normalised videos [B,3,T,H,W].

    As VM `engine_for_pretraining.py` with `normlize_target=True`: undo ImageNet normalisation, then per token and
    per colour channel subtract the mean and divide by (unbiased std + 1e-6); flatten (dt,dy,dx,c), channel fastest;
    keep masked tokens in ascending index order. Computed in float32.
    """
    tokens = patchify(unnormalize(videos.float()), tubelet, patch)
    std_per_patch = tokens.var(dim=-2, unbiased=True, keepdim=True).sqrt()
    tokens = (tokens - tokens.mean(dim=-2, keepdim=True)) / (std_per_patch + 1e-6)
    tokens = tokens.flatten(2)
    b = tokens.shape[0]
    return tokens[mask].reshape(b, -1, tokens.shape[-1])


def pretrain_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE over all masked tokens and values (VM `nn.MSELoss()`), computed in float32."""
    if pred.shape != target.shape:
        raise BadInput(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    return F.mse_loss(pred.float(), target.float())


class Encoder(Transformer):
    """VM `PretrainVisionTransformerEncoder`: patch embed + sinusoid table, blocks on visible tokens, final norm."""

    def __init__(self, dim, depth, heads, patch, tubelet, num_patches, drop_path=0.0, grad_checkpointing=False):
        super().__init__(dim, depth, heads, drop_path, grad_checkpointing)
        self.patch_embed = PatchEmbed(dim, patch, tubelet)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.dim, self.num_patches = dim, num_patches
        # fixed table as a non-persistent buffer: follows .to(device), never in state_dict (as VM)
        self.register_buffer("pos_table", sinusoid_table(num_patches, dim), persistent=False)

    def embed(self, videos: torch.Tensor) -> torch.Tensor:
        """videos [B,3,T,H,W] -> all tokens [B, N, D] with the sinusoid table added (before the blocks)."""
        x = self.patch_embed(videos)
        if x.shape[1] != self.num_patches:
            raise BadInput(f"model expects {self.num_patches} tokens per clip; input {tuple(videos.shape)} "
                           f"gives {x.shape[1]}")
        return x + self.pos_table.to(x.dtype)

    def forward(self, videos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """videos [B,3,T,H,W], mask bool [B,N] -> visible tokens [B, N_vis, D] after the final norm."""
        x = self.embed(videos)
        b, n, d = x.shape
        if mask.shape != (b, n):
            raise BadInput(f"mask {tuple(mask.shape)} does not fit {n} tokens of input {tuple(videos.shape)}")
        x = x[~mask].reshape(b, -1, d)  # same visible count per clip (tube mask)
        return self.norm(self.run_blocks(x))


class Decoder(Transformer):
    """VM `PretrainVisionTransformerDecoder`: blocks on all tokens; norm + head on the last N_mask tokens."""

    def __init__(self, dim, depth, heads, out_dim, grad_checkpointing=False):
        super().__init__(dim, depth, heads, 0.0, grad_checkpointing)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.head = nn.Linear(dim, out_dim)

    def forward(self, x: torch.Tensor, n_mask: int) -> torch.Tensor:
        x = self.run_blocks(x)
        return self.head(self.norm(x[:, -n_mask:]))


class PretrainVideoMAE(nn.Module):
    """model(videos [B,3,T,H,W], mask bool [B,N]) -> predicted normalised pixels [B, N_mask, 3*tubelet*p*p]."""

    def __init__(self, *, depth, dim, heads, decoder_dim, decoder_heads, decoder_depth=4, num_frames=16,
                 img_size=224, patch=PATCH, tubelet_size=TUBELET, drop_path=0.0, grad_checkpointing=False):
        super().__init__()
        self.patch, self.tubelet = patch, tubelet_size
        self.window = token_window(num_frames, img_size, patch, tubelet_size)
        n = self.window[0] * self.window[1] * self.window[2]
        self.encoder = Encoder(dim, depth, heads, patch, tubelet_size, n, drop_path, grad_checkpointing)
        self.decoder = Decoder(decoder_dim, decoder_depth, decoder_heads, 3 * tubelet_size * patch * patch,
                               grad_checkpointing)
        self.encoder_to_decoder = nn.Linear(dim, decoder_dim, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.decoder_dim, self.num_patches = decoder_dim, n
        self.register_buffer("decoder_pos_table", sinusoid_table(n, decoder_dim), persistent=False)
        init_weights(self, "xavier")  # VM pre-training: xavier-uniform Linear, zero bias
        trunc_normal(self.mask_token, 0.02)

    def forward(self, videos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.encoder_to_decoder(self.encoder(videos, mask))  # [B, N_vis, D_dec]
        b, _, d = x.shape
        pos = self.decoder_pos_table.to(x.dtype).expand(b, -1, -1)
        pos_vis = pos[~mask].reshape(b, -1, d)
        pos_mask = pos[mask].reshape(b, -1, d)  # masked positions in ascending index order
        x = torch.cat([x + pos_vis, self.mask_token.to(x.dtype) + pos_mask], dim=1)
        return self.decoder(x, pos_mask.shape[1])

    def no_weight_decay(self) -> set[str]:
        return {"mask_token"}  # VM also lists pos_embed/cls_token, which do not exist here

