"""Run directories: atomic writes, DONE markers, JSON-lines logs.

A run directory holds `config.json` (written first), `log.jsonl`, checkpoints and results, and `DONE`
(written last, holding the final results). A run without `DONE` is incomplete, whatever else it holds.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from synvid.errors import MissingInput


PARTIAL = ".partial"   # infix of the temporary files; a killed run may leave them behind (`remove_partials`)
LAST = "last.pth"      # the checkpoint every training run keeps (saved every `save_every` steps and at the end)


def fsync_path(path: str | Path) -> None:
    """Flush a file's or a directory's data and metadata to the disk (a rename alone survives a process crash,
    not a power loss: the new name can point at unwritten blocks)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call `write(tmp_path)` then rename onto `path`, so a crash never leaves a half-written final file.
    The file and its directory are fsynced before the rename (the data is on disk under the temporary name) and
    the directory after it (the new name is on disk)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The suffix is kept so that writers which pick a format from it (PyAV, PIL) still work.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f"{PARTIAL}{path.suffix}")
    os.close(fd)
    try:
        write(tmp)
        fsync_path(tmp)
        fsync_path(path.parent)
        os.replace(tmp, path)
        fsync_path(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def remove_partials(folder: str | Path) -> list[Path]:
    """Delete the temporary files that `atomic_write` left under `folder` when its process was killed."""
    stale = [p for p in Path(folder).rglob(f".*{PARTIAL}*") if p.is_file()]
    for p in stale:
        p.unlink()
    return stale


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_torch_save(path: str | Path, obj: Any) -> Path:
    import torch
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (checkpoints and banks do not fit in memory twice)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_done(run_dir: str | Path) -> bool:
    return (Path(run_dir) / "DONE").exists()


def mark_done(run_dir: str | Path, results: dict | None = None) -> Path:
    """Write `DONE` last; it holds the final results so that a reader needs no other file."""
    return atomic_write_json(Path(run_dir) / "DONE", results or {})


def read_done(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "DONE"
    if not path.exists():
        raise MissingInput(f"{run_dir} is not finished (no DONE file)")
    return json.loads(path.read_text())


class JsonlLog:
    """Append-only JSON-lines log; each record is flushed so that a crash loses at most the current line."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record: Any) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record, default=float) + "\n")

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def truncate_after(self, key: str, value: int) -> None:
        """Drop records with `key` > value (used on resume, so the log matches the restored checkpoint)."""
        kept = [r for r in self.read() if r.get(key, -1) <= value]
        atomic_write_text(self.path, "".join(json.dumps(r, default=float) + "\n" for r in kept))

