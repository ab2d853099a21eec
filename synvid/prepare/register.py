"""The registration file (`data/paths.env`, git-ignored): `VARIABLE=/absolute/path` lines that run_all.sh reads
(scripts/paths.sh), so the paper-scale profiles find prepared data without exported variables. A variable set in
the environment wins over the file. It is parsed, never sourced: a value is taken literally.
"""
from __future__ import annotations

from pathlib import Path

from synvid.errors import BadInput
from synvid.runs import atomic_write_text

HEADER = ("# Data roots registered by data_gen/0_prepare_data.py (docs/data.md); read by run_all.sh.\n"
          "# A variable set in the environment wins. One VARIABLE=/absolute/path per line.\n")


def read(path: str | Path) -> dict[str, str]:
    path = Path(path)
    if not path.is_file():
        return {}
    entries = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#") and key.strip():
            entries[key.strip()] = value
    return entries


def register(path: str | Path, variable: str, value: str | Path) -> Path:
    """Set `variable` to the absolute `value` in the registration file, keeping its other entries."""
    value = str(Path(value).resolve())
    if "\n" in value:
        raise BadInput(f"cannot register a path with a line break: {value!r}")
    entries = {**read(path), variable: value}
    body = "".join(f"{key}={entries[key]}\n" for key in sorted(entries))
    return atomic_write_text(path, HEADER + body)
