"""FVD features: 400-d logits of StyleGAN-V's TorchScript I3D (PROTOCOLS §5.2, §7 Q17)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from synvid.stats import require_file

WEIGHTS_NAME = "i3d_torchscript.pt"
WEIGHTS_HINT = (f"--i3d-weights {WEIGHTS_NAME} (StyleGAN-V release: "
                "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1)")


def check_weights(path) -> Path:
    return require_file(path, "FVD needs the I3D detector", WEIGHTS_HINT)


def load_i3d(weights, device="cpu"):
    return torch.jit.load(str(check_weights(weights)), map_location=device).eval()


@torch.no_grad()
def i3d_features(detector, clips: np.ndarray, batch_size: int = 8, device="cpu") -> np.ndarray:
    """uint8 clips [N,T,H,W,3] -> float64 [N, 400]; fed as uint8 (B,C,T,H,W) with rescale/resize=True
    so the detector maps to [-1,1] and resizes to 224 itself, as StyleGAN-V's metric_utils does."""
    out = []
    for i in range(0, len(clips), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(clips[i:i + batch_size])).to(device)
        x = x.permute(0, 4, 1, 2, 3)  # (B,T,H,W,C) -> (B,C,T,H,W)
        feats = detector(x, rescale=True, resize=True, return_features=True)
        out.append(feats.double().cpu().numpy())
    return np.concatenate(out)
