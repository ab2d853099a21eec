"""ViT video classifier for fine-tuning (PROTOCOLS §2.1, §2.3; VM `modeling_finetune.py::VisionTransformer`)."""
from __future__ import annotations

import torch
from torch import nn

from synvid.errors import BadInput

from .vit import LN_EPS, PatchEmbed, Transformer, init_weights, sinusoid_table, timm_trunc_normal


class VideoClassifier(Transformer):
    """model(videos [B,3,T,H,W]) -> logits [B, num_classes].

    Mean pooling over all tokens, then fc_norm -> dropout(fc_drop_rate) -> head; no cls token and no final norm
    (Identity under mean pooling in VM). Names match the official fine-tuned state_dict (PROTOCOLS §3.1).
    """

    def __init__(self, *, depth, dim, heads, num_classes=400, num_frames=16, img_size=224, patch=16,
                 tubelet_size=2, drop_path=0.0, dropout=0.0, init_scale=0.001, grad_checkpointing=False):
        super().__init__(dim, depth, heads, drop_path, grad_checkpointing)
        self.patch_embed = PatchEmbed(dim, patch, tubelet_size)
        self.num_patches = (num_frames // tubelet_size) * (img_size // patch) ** 2
        self.fc_norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.fc_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, num_classes)
        self.dim, self.num_layers = dim, depth
        self.register_buffer("pos_table", sinusoid_table(self.num_patches, dim), persistent=False)  # not saved
        init_weights(self, "trunc_normal")  # VM fine-tuning init: timm trunc-normal 0.02
        with torch.no_grad():  # VM: head weight and bias multiplied by init_scale (0.001)
            timm_trunc_normal(self.head.weight, 0.02).mul_(init_scale)
            self.head.bias.mul_(init_scale)

    def tokens(self, videos: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Patch embed + sinusoid table + blocks[:upto] -> [B, N, D]."""
        x = self.patch_embed(videos)
        if x.shape[1] != self.num_patches:
            raise BadInput(f"model expects {self.num_patches} tokens per clip, input {tuple(videos.shape)} gives "
                           f"{x.shape[1]}; build it with matching num_frames/img_size")
        x = x + self.pos_table.to(x.dtype)
        if upto is None:
            return self.run_blocks(x)
        for blk in self.blocks[:upto]:
            x = blk(x)
        return x

    def forward_features(self, videos: torch.Tensor) -> torch.Tensor:
        """[B,3,T,H,W] -> [B, D]: mean-pooled tokens after fc_norm (the input of `head`)."""
        return self.fc_norm(self.tokens(videos).mean(1))

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        return self.head(self.fc_dropout(self.forward_features(videos)))

    @torch.no_grad()
    def last_block_keys(self, videos: torch.Tensor) -> torch.Tensor:
        """Attention keys of the last block [B, N, D] (Fig. 5 PCA), heads concatenated along D."""
        x = self.tokens(videos, upto=self.num_layers - 1)
        last = self.blocks[-1]
        _, k, _ = last.attn.qkv_heads(last.norm1(x))
        return k.transpose(1, 2).flatten(2)

    def layer_id(self, name: str) -> int:
        """Layer index for layer-wise lr decay (VM `get_num_layer_for_vit`): 0 embed, i+1 blocks.i, depth+1 rest."""
        name = name.removeprefix("module.").removeprefix("_orig_mod.")
        if name.startswith("patch_embed") or name in ("cls_token", "mask_token", "pos_embed"):
            return 0
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        return self.num_layers + 1

    def no_weight_decay(self) -> set[str]:
        return set()  # VM: {pos_embed, cls_token}; neither is a parameter here (fixed table, no cls token)

