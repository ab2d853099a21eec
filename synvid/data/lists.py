"""The official VideoMAE list-file format (PROTOCOLS.md §1.4).

Despite the `.csv` name these are space-separated, headerless lines `<path> <int label>`; official
VideoMAE reads them with pandas (`delimiter=' '`, `header=None`). A path containing a space breaks
that parser, so we refuse to write one. Pre-training lists carry label 0.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from synvid.errors import BadInput, MissingInput
from synvid.runs import atomic_write_text


def read_list(path: str | Path, root: str | Path | None = None) -> list[tuple[str, int]]:
    """Read `(video_path, label)` pairs; relative paths are taken under `root` (default: the list's folder)."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"list file not found: {path}")
    base = Path(root) if root is not None else path.parent
    items = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise BadInput(f"{path}:{number}: expected '<path> <label>', got {line!r}")
        video, label = fields
        try:
            items.append((str(base / video), int(label)))
        except ValueError:
            raise BadInput(f"{path}:{number}: label {label!r} is not an integer") from None
    if not items:
        raise BadInput(f"list file is empty: {path}")
    return items


def write_list(path: str | Path, items: Iterable[tuple[str | Path, int]]) -> Path:
    """Write `(video_path, label)` pairs atomically in the official format."""
    lines = []
    for video, label in items:
        if any(c.isspace() for c in str(video)):
            raise BadInput(f"path contains whitespace, which the official list format cannot hold: {video!r}")
        lines.append(f"{video} {int(label)}\n")
    return atomic_write_text(path, "".join(lines))
