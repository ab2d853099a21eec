"""`<root>/checksums.json`: the sha256 and size of every fetched file, recorded at its first complete download, and
which archives are unpacked. A later download (or a copy given with --from-archive) must match the record; a hash
the source publishes, or one given with --sha256, is checked first.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from synvid.errors import BadInput
from synvid.prepare.sources import Hash
from synvid.runs import atomic_write_json

NAME = "checksums.json"


def file_hashes(path: str | Path, algorithms=("sha256",)) -> dict:
    """{algorithm: hex digest} of a file, read once."""
    digests = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            for digest in digests.values():
                digest.update(block)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def matches(hashes: dict, expected: Hash) -> bool:
    if expected.algorithm == "sha256-prefix":
        return hashes["sha256"].startswith(expected.value.lower())
    return hashes[expected.algorithm] == expected.value.lower()


class Checksums:
    """The records of one root; every change is written at once (atomically)."""

    def __init__(self, root: str | Path):
        self.path = Path(root) / NAME
        self.records: dict = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def get(self, key: str) -> dict | None:
        return self.records.get(key)

    def unpacked(self, key: str) -> bool:
        return bool(self.records.get(key, {}).get("unpacked"))

    def _save(self) -> None:
        atomic_write_json(self.path, self.records)

    def record(self, key: str, entry: dict) -> None:
        self.records[key] = entry
        self._save()

    def mark_unpacked(self, key: str) -> None:
        self.records[key]["unpacked"] = True
        self._save()

    def forget(self, key: str) -> None:
        if self.records.pop(key, None) is not None:
            self._save()

    def check(self, key: str, path: Path, expected: list[Hash], origin: str) -> dict:
        """Hash `path` and compare it with each expected hash (published or given) and with the first download's
        record; record it when it is the first. Raises BadInput naming the file and both digests."""
        algorithms = {"sha256", *(h.algorithm for h in expected if h.algorithm != "sha256-prefix")}
        hashes = {**file_hashes(path, sorted(algorithms)), "size": path.stat().st_size}
        for want in expected:
            if not matches(hashes, want):
                got = hashes["sha256" if want.algorithm == "sha256-prefix" else want.algorithm]
                raise BadInput(f"{path}: {want.algorithm} {got} does not match {want.value} ({want.source})")
        first = self.get(key)
        if first and (first["sha256"], first["size"]) != (hashes["sha256"], hashes["size"]):
            raise BadInput(f"{path} (sha256 {hashes['sha256']}, {hashes['size']} bytes) differs from the first "
                           f"download recorded in {self.path} (sha256 {first['sha256']}, {first['size']} bytes): "
                           f"a changed source or a corrupt copy; remove its entry '{key}' to accept this one")
        if not first:
            checked = ", ".join(f"{h.algorithm} ({h.source})" for h in expected) or "none published"
            self.record(key, {"sha256": hashes["sha256"], "size": hashes["size"], "from": origin,
                              "checked": checked})
        return hashes
