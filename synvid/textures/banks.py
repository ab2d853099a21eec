"""Texture banks on disk: sharded uint8 .npy files + manifest with SHA-256 checksums; resumable writer.

A bank of N textures from generator `source` and `seed` holds shard_00000.npy ... ([<=shard, S, S, 3] uint8),
each written atomically with a sidecar .sha256; `manifest.json` (written last) lists source, seed, size, num
and every shard's range and checksum. Re-running the writer keeps verified shards, so an interrupted bank
resumes to the same bytes. `Bank` reads it back as a TextureSource; texture k is the same pixels as
`synvid.textures.generated.generate(source, ..., seed)[k]` because both derive texture k from (seed, k) only.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from synvid.config import to_dict
from synvid.errors import BadInput, MissingInput
from synvid.runs import RunDir, atomic_write, atomic_write_json, atomic_write_text, file_sha256
from synvid.textures import generated

MANIFEST = "manifest.json"
# Bumped whenever a generator's pixels for a given (seed, k) change; a bank records the version it was written
# with, so stale shards are neither resumed nor read as if generated now. stylegan 2: styles drawn as |w| eps;
# stylegan_highfreq 3: the original's ternary bank (sign of the raw line crop, float32 mean-removed edges).
VERSIONS = {"statistical": 1, "stylegan": 2, "stylegan_highfreq": 3}


def check_version(root: Path, source: str, recorded) -> None:
    """A clear error when a bank was written by another version of the generator (missing record = 1)."""
    want = VERSIONS.get(source, 1)
    if (recorded or 1) != want:
        raise BadInput(f"texture bank {root} was written by {source} generator version {recorded or 1}, "
                       f"this code generates version {want}: delete the bank and write it again")


def _shard_ok(path: Path) -> str | None:
    side = path.with_suffix(".sha256")
    if path.exists() and side.exists() and side.read_text().strip() == file_sha256(path):
        return side.read_text().strip()
    return None


def write_bank(out, source: str, num: int, *, seed: int = 0, size: int = 256, shard: int = 1000,
               device="cpu", generate=None, max_shards: int | None = None, progress=None) -> dict | None:
    """Write (or resume) a bank; `max_shards` stops early (for tests of interruption). Returns the manifest."""
    generate = generate or generated.generate
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "version.json"
    if stamp.exists() or any(out.glob("shard_*.npy")):
        check_version(out, source, json.loads(stamp.read_text())["version"] if stamp.exists() else None)
    else:
        atomic_write_json(stamp, {"source": source, "version": VERSIONS.get(source, 1)})
    shards, written = [], 0
    for i, start in enumerate(range(0, num, shard)):
        stop = min(start + shard, num)
        path = out / f"shard_{i:05d}.npy"
        digest = _shard_ok(path)
        if digest is None:
            if max_shards is not None and written >= max_shards:
                return None
            ids = torch.arange(start, stop)
            arr = generate(source, ids, seed=seed, size=size, device=device).cpu().numpy()
            atomic_write(path, lambda tmp, a=arr: np.save(tmp, a))
            digest = file_sha256(path)
            atomic_write_text(path.with_suffix(".sha256"), digest + "\n")
            written += 1
        shards.append({"file": path.name, "start": start, "stop": stop, "sha256": digest})
        if progress:
            progress(stop, num)
    manifest = {"source": source, "version": VERSIONS.get(source, 1), "seed": seed, "size": size, "num": num,
                "shard": shard, "shards": shards}
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


class Bank:
    """TextureSource reading a finished bank (shards memory-mapped); `verify=True` re-checks checksums."""

    def __init__(self, root, *, verify: bool = False):
        root = Path(root)
        if not (root / MANIFEST).exists():
            raise MissingInput(f"{root} is not a finished texture bank: {MANIFEST} is missing "
                               "(run data_gen/3_1_texture_banks.py to write or resume it)")
        self.manifest = json.loads((root / MANIFEST).read_text())
        check_version(root, self.manifest["source"], self.manifest.get("version"))
        self.root, self.pool_size, self.size = root, self.manifest["num"], self.manifest["size"]
        self.shard, self._arrays = self.manifest["shard"], {}
        if verify:
            for s in self.manifest["shards"]:
                if file_sha256(root / s["file"]) != s["sha256"]:
                    raise BadInput(f"texture bank shard {root / s['file']} fails its checksum")

    def _array(self, i: int) -> np.ndarray:
        if i not in self._arrays:
            self._arrays[i] = np.load(self.root / self.manifest["shards"][i]["file"], mmap_mode="r")
        return self._arrays[i]

    def get(self, ids: torch.Tensor, device="cpu") -> torch.Tensor:
        ids = torch.as_tensor(ids).tolist()
        bad = [k for k in ids if not 0 <= k < self.pool_size]
        if bad:
            raise IndexError(f"texture ids {bad[:5]} outside bank {self.root} of {self.pool_size}")
        out = np.stack([self._array(k // self.shard)[k % self.shard] for k in ids]) if ids else \
            np.empty((0, self.size, self.size, 3), np.uint8)
        return torch.from_numpy(np.ascontiguousarray(out)).to(device)


def build_bank(cfg, out, source: str, num: int | None = None, *, seed: int = 0, shard: int = 1000, device="cpu",
               profile=None) -> None:
    """data_gen/3_1_texture_banks.py: `num` (default: the TextureConfig `cfg`'s pool_size) textures of `source`
    at cfg.size into the bank `out` (a finished bank, DONE, is skipped), printing progress; DONE last."""
    num = num if num is not None else cfg.pool_size
    if num <= 0 or shard <= 0:
        raise BadInput(f"--num and --shard must be positive, got {num} and {shard}")
    with RunDir(out, to_dict(cfg, source=source, num=num, seed=seed, shard=shard, profile=profile)) as run:
        if run.done is not None:
            print(f"{out} is done; skipping")
            return
        manifest = write_bank(out, source, num, seed=seed, size=cfg.size, shard=shard, device=device,
                              progress=lambda i, n: print(f"{i}/{n} textures", flush=True))
        run.finish({"source": source, "num": num, "shards": len(manifest["shards"])})
    print(f"wrote {num} {source} textures to {out}")
