"""FID Inception-v3 pool3 features (2048-d) with pytorch-fid's network and a local weights file (PROTOCOLS §5.1)."""
from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import torch
from pytorch_fid import inception as pfi

from synvid.stats import require_file

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_HINT = (f"--inception-weights {WEIGHTS_NAME} (pytorch-fid GitHub release 'fid_weights': "
                f"{pfi.FID_WEIGHTS_URL})")


def check_weights(path) -> Path:
    return require_file(path, "FID/diversity need the Inception weights", WEIGHTS_HINT)


def build_inception(weights, device="cpu") -> torch.nn.Module:
    """pytorch-fid's InceptionV3 (block 3 = final average pool), its state_dict read from `weights`.

    pytorch-fid always downloads inside `fid_inception_v3`; we hand it the local file instead, so the network
    structure (patched FID blocks) stays pytorch-fid's own and nothing is downloaded.
    """
    path = check_weights(weights)
    state = torch.load(path, map_location="cpu", weights_only=True)
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: state):
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True,
                                normalize_input=True, use_fid_inception=True)
    return model.eval().to(device)


@torch.no_grad()
def inception_features(model, frames: np.ndarray, batch_size: int = 50, device="cpu") -> np.ndarray:
    """uint8 frames [N,H,W,3] -> float64 [N, 2048]. Input in [0,1]; the model resizes to 299 bilinear."""
    out = []
    for i in range(0, len(frames), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(frames[i:i + batch_size])).to(device)
        x = x.permute(0, 3, 1, 2).float() / 255.0
        feats = model(x)[0]  # [B, 2048, 1, 1]
        out.append(feats.flatten(1).double().cpu().numpy())
    return np.concatenate(out)
