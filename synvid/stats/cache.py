"""Per-dataset feature cache (.npz, atomic) so re-running a statistic reuses computed features."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from synvid.runs import atomic_write


def cache_path(cache_dir, dataset: str, kind: str, **params) -> Path:
    """File name from the dataset, feature kind and every sampling parameter (a change -> a new file)."""
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(dataset)).strip("_")[-80:]
    extra = "_".join(f"{k}{v}" for k, v in sorted(params.items()))
    return Path(cache_dir) / f"{tag}__{kind}__{extra}.npz"


def cached(path: Path, compute) -> np.ndarray:
    """Load array `features` from `path`, or compute it with `compute()` and store it atomically."""
    path = Path(path)
    if path.is_file():
        with np.load(path) as f:
            return f["features"]
    feats = np.asarray(compute())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: np.savez(tmp, features=feats))  # tmp ends in .npz
    return feats
