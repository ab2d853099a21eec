"""Run directories: the one contract every stage that writes a folder follows (`RunDir`), atomic writes, DONE
markers, JSON-lines logs.

A run directory holds `config.json` (written first: the resolved configuration and its `config_hash`), whatever
the stage writes (`log.jsonl`, checkpoints, videos, results), and `DONE` (written last, holding the final results).
A run without `DONE` is incomplete, whatever else it holds.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from synvid import config as config_module
from synvid import dist
from synvid.errors import BadInput, MissingInput


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



# --- The run-directory contract ---------------------------------------------------------------------------------------

LAUNCH_KEYS = {"world_size", "config_hash"}   # how a run was launched or named, not what it computes
UNSET = (None, "", [], {})                     # a top-level setting absent from an older run reads as unset


def _section_defaults(section: str, profile: str | None) -> dict | None:
    """The values an older run used for fields it did not record: the dataclass defaults, or with `profile`
    (a whole section it did not record) that profile's values; None if `section` is no config class."""
    cls = getattr(config_module, section, None)
    if cls is None or not dataclasses.is_dataclass(cls):
        return None
    return dataclasses.asdict(config_module.resolve(cls, profile) if profile else cls())


def flat_config(config: dict, free=(), like: dict | None = None) -> dict:
    """{"Section.field": value, "key": value} of a config dict, without the launch keys and the `free` keys or
    fields. With `like` (the newer config), what `config` lacks is filled in as the older code behaved: a missing
    field as its default, a missing section as its profile's values, a missing top-level key as unset; a field its
    section no longer declares is read by nothing, so it is left out (an older probe's copies of FinetuneConfig
    fields in LinprobeConfig: its FinetuneConfig section holds them as trained)."""
    like = like or {}
    out = {}
    for key in set(config) | set(like):
        if key in LAUNCH_KEYS or key in free:
            continue
        section = _section_defaults(key, None)
        if section is not None:
            saved = config.get(key)
            base = section if saved is not None else _section_defaults(key, config.get("profile") or "paper")
            out.update({f"{key}.{k}": v for k, v in {**base, **(saved or {})}.items()
                        if k in base and k not in free})
        elif key in config or like.get(key) not in UNSET:
            out[key] = config.get(key)
    return out


def config_hash(config: dict, free=()) -> str:
    """sha256 of the complete resolved configuration (flat_config), recorded in config.json (and engines' DONE)."""
    return _digest(flat_config(config, free))


def _digest(flat: dict) -> str:
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()


def _as_saved(obj: Any) -> Any:
    """`obj` as config.json gives it back (tuples become lists, paths strings)."""
    return json.loads(json.dumps(obj, default=str))


def config_differences(saved: dict, config: dict, free=()) -> list[str]:
    """The keys ("Section.field" or top-level) whose values differ between a saved config and a new one."""
    old, new = flat_config(_as_saved(saved), free, like=_as_saved(config)), flat_config(_as_saved(config), free)
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


class RunDir:
    """The contract of every run directory (STYLE 4, 12, 17), as a context manager:

        with RunDir(out, config, free=...) as run:
            if run.done is not None:
                return run.done            # finished with this configuration: skipped
            ...                            # the work
            run.finish(record)             # DONE's content

    On entering: a saved config.json that differs from `config` (beyond the `free` keys: settings that do not change
    what the folder holds) is refused naming the keys, before anything is written; a finished run (DONE) is skipped
    (`done` holds DONE's content) unless `redo`; otherwise rank 0 writes config.json (`config`, its `config_hash`
    and the `launch` keys, such as the world size). On leaving without an exception after `finish`, rank 0 writes
    DONE last; an exception, or no `finish` (a run stopped early), leaves no DONE. Every rank enters and leaves
    (dist.on_main: a failed write on rank 0 stops them all).

    `redo`: a finished folder is written again instead of skipped (its DONE removed first), for folders whose
    inputs grow under the same settings (statistics merged per dataset, sets added to a UCF101-P tree, a figure of
    the runs so far); their writers reuse the parts already done."""

    def __init__(self, path: str | Path, config: dict, *, free=(), redo: bool = False, launch: dict | None = None):
        self.path, self.config, self.free, self.redo = Path(path), config, set(free), redo
        self.launch = launch or {}
        self.config_hash = config_hash(_as_saved(config), self.free)
        self.done: dict | None = None
        self._record: dict | None = None

    def __enter__(self) -> "RunDir":
        self.check()
        if is_done(self.path) and not self.redo:
            self.done = read_done(self.path)
            return self
        dist.on_main(self._start)
        return self

    def check(self) -> None:
        """Refuse a folder that holds a run of other settings (BadInput naming the keys)."""
        saved = self.path / "config.json"
        if not saved.is_file():
            if is_done(self.path):
                raise BadInput(f"{self.path} holds a DONE but no config.json (its settings are unknown): "
                               "use another --out or delete it")
            return
        diff = config_differences(json.loads(saved.read_text()), self.config, self.free)
        if diff:
            raise BadInput(f"{self.path} holds a run with different settings ({', '.join(diff)}): "
                           f"use another --out or delete {self.path}")

    def _start(self) -> None:
        (self.path / "DONE").unlink(missing_ok=True)   # redo: the folder reads unfinished until DONE is rewritten
        atomic_write_json(self.path / "config.json", {**self.config, "config_hash": self.config_hash, **self.launch})

    def finish(self, record: dict) -> None:
        """DONE's content, written when the block ends without an exception."""
        self._record = record

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self.done is None and self._record is not None:
            dist.on_main(mark_done, self.path, self._record)
