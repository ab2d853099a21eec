"""Unpack zip, tar(.gz) and RAR archives into exactly the layout the readers expect (README "Real datasets").

Each file is written to a hidden `.<name>.partial` beside its destination and renamed when complete, so a kill
leaves no half-written file under its final name (`synvid.runs.remove_partials` sweeps the leftovers); a file
already there with the member's size is kept, so a second run resumes. No fsync per file, unlike
`runs.atomic_write`: ImageNet has 1.28 million of them; the verify step after every run finds a file that a power
cut lost.

RAR: `rarfile` reads the archive; stored members (no compression) are read in Python, compressed ones need a free
extractor (unar, unrar, 7z or bsdtar from the system packages), run once per archive into a staging folder.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import subprocess
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Iterator

import rarfile
from tqdm import tqdm

from synvid.data.splits import annotation_rows, kinetics_clip_name
from synvid.errors import BadInput, MissingInput
from synvid.prepare.sources import Place
from synvid.runs import PARTIAL

CHUNK = 1 << 20
STAGING = f".unpack{PARTIAL}"          # under the root: compressed RARs and nested archives (removed after)
EXTRACTORS = (("unar", ["unar", "-q", "-f", "-D", "-o", "{dest}", "{archive}"]),   # -D: no wrapping folder
              ("unrar", ["unrar", "x", "-o+", "-inul", "{archive}", "{dest}/"]),
              ("7z", ["7z", "x", "-y", "-o{dest}", "{archive}"]),
              ("bsdtar", ["bsdtar", "-x", "-f", "{archive}", "-C", "{dest}"]))      # no solid archives
INSTALL_HINT = "apt-get install unar (or libarchive-tools, whose bsdtar reads non-solid RAR archives)"
CORRUPT = (zipfile.BadZipFile, tarfile.TarError, rarfile.Error, gzip.BadGzipFile, zlib.error, EOFError)

Member = tuple[str, int, "IO[bytes] | Path"]    # (name inside the archive, size, its bytes: a stream, or a file
#                                                  that an extractor wrote in the staging folder, moved into place)


@dataclass
class Unpacked:
    written: list = field(default_factory=list)    # files written (removed again if the archive proves corrupt)
    kept: int = 0                       # files already complete on disk
    unlisted: list = field(default_factory=list)   # K400 files no annotation row names (left out)


def archive_kind(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b") or head[257:262] == b"ustar":
        return "tar"
    raise BadInput(f"{path}: not a zip, tar or RAR archive (first bytes {head[:8]!r})")


def needs_tool(infos: list) -> bool:
    """Compressed members need the system extractor; stored ones (rarfile's DirectReader) do not."""
    return any(info.compress_type != rarfile.RAR_M0 for info in infos)


def find_extractor() -> list[str]:
    for name, command in EXTRACTORS:
        if shutil.which(name):
            return command
    raise MissingInput(f"no RAR extractor found for a compressed RAR archive: {INSTALL_HINT}")


def extract_with_tool(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    command = [part.format(archive=archive, dest=dest) for part in find_extractor()]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BadInput(f"{archive}: {command[0]} could not extract it (corrupt or truncated?): "
                       f"{(done.stderr or done.stdout).strip()[-500:]}")


def _folder_members(folder: Path) -> Iterator[Member]:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        yield path.relative_to(folder).as_posix(), path.stat().st_size, path


def _rar_members(path: Path, staging: Path) -> Iterator[Member]:
    with rarfile.RarFile(path) as archive:
        infos = [info for info in archive.infolist() if info.is_file()]
        if needs_tool(infos):
            folder = staging / f"{path.name}.d"
            extract_with_tool(path, folder)
            yield from _folder_members(folder)
            shutil.rmtree(folder)
            return
        for info in infos:
            with archive.open(info) as stream:      # rarfile checks the CRC at the end of each member
                yield info.filename, info.file_size, stream


def _zip_members(path: Path) -> Iterator[Member]:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                with archive.open(info) as stream:  # zipfile checks the CRC at the end of each member
                    yield info.filename, info.file_size, stream


def _tar_members(stream: IO[bytes]) -> Iterator[Member]:
    with tarfile.open(fileobj=stream, mode="r|") as archive:    # streaming: one pass, any size
        for info in archive:
            if info.isfile():
                yield info.name, info.size, archive.extractfile(info)


def _tar_file_members(path: Path) -> Iterator[Member]:
    """tarfile's own stream mode skips the gzip CRC; GzipFile checks it (and the length) at the end of the stream,
    so the rest is read after the last member."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        yield from _tar_members(stream)
        while stream.read(CHUNK):
            pass


def members(path: Path, staging: Path) -> Iterator[Member]:
    kind = archive_kind(path)
    if kind == "rar":
        return _rar_members(path, staging)
    return _zip_members(path) if kind == "zip" else _tar_file_members(path)


def relative_name(name: str) -> PurePosixPath:
    """A member name as a safe relative path (Windows separators of RAR archives made from Windows too)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or ".." in parts:
        raise BadInput(f"archive member {name!r} would land outside the dataset root")
    return PurePosixPath(*parts)


def write_member(stream: IO[bytes] | Path, dest: Path, size: int, replace: bool = False) -> bool:
    """Write one member atomically (see the module doc); False when an equal-size file was already there. A file
    of the staging folder (same file system) is renamed into place instead of copied."""
    if not replace and dest.is_file() and dest.stat().st_size == size:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(stream, Path):
        os.replace(stream, dest)
        return True
    tmp = dest.with_name(f".{dest.name}{PARTIAL}")
    try:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


class LabelIndex:
    """K400: annotation rows by clip file name (and by YouTube id when that id has one row), so that the flat CVDF
    shards are re-filed as `<label>/<name>`."""

    def __init__(self, csv_path: Path):
        rows = annotation_rows(csv_path)
        self.by_name = {kinetics_clip_name(r): r["label"] for r in rows}
        ids: dict[str, list] = {}
        for row in rows:
            ids.setdefault(row["youtube_id"], []).append(row)
        self.by_id = {k: (v[0]["label"], kinetics_clip_name(v[0])) for k, v in ids.items() if len(v) == 1}

    def route(self, name: str) -> PurePosixPath | None:
        if name in self.by_name:
            return PurePosixPath(self.by_name[name], name)
        found = self.by_id.get(name[:11])                 # YouTube ids have 11 characters
        return PurePosixPath(*found) if found else None


def _target(name: str, place: Place, labels: LabelIndex | None) -> PurePosixPath | None:
    relative = relative_name(name)
    if labels is not None:
        routed = labels.route(relative.name)
        return PurePosixPath(place.folder, routed) if routed else None
    return PurePosixPath(place.folder, *relative.parts[-place.keep:])


def _nested(name: str, stream: IO[bytes] | Path, staging: Path) -> Iterator[Member]:
    """The members of an archive inside an archive (HMDB51's per-class RARs, ImageNet's per-class tars)."""
    if name.lower().endswith(".tar"):
        with open(stream, "rb") if isinstance(stream, Path) else contextlib.nullcontext(stream) as opened:
            yield from _tar_members(opened)
        return
    spooled = staging / PurePosixPath(name).name
    write_member(stream, spooled, -1, replace=True)
    yield from members(spooled, staging)
    spooled.unlink()


def unpack(path: str | Path, root: str | Path, place: Place, progress: bool = True) -> Unpacked:
    """Place every member of archive `path` under `root` as `place` says; a corrupt archive raises BadInput."""
    path, root = Path(path), Path(root)
    staging = root / STAGING
    labels = LabelIndex(root / place.labels) if place.labels else None
    result = Unpacked()
    try:
        with tqdm(unit="file", desc=f"unpack {path.name}", disable=not progress, leave=False) as bar:
            for name, size, stream in members(path, staging):
                if place.nested:
                    inner = Place(str(PurePosixPath(place.folder, relative_name(name).stem)))
                    for inner_name, inner_size, inner_stream in _nested(name, stream, staging):
                        _place_one(inner_name, inner_size, inner_stream, root, inner, None, result)
                        bar.update()
                else:
                    _place_one(name, size, stream, root, place, labels, result)
                    bar.update()
    except CORRUPT as error:
        for written in result.written:  # a gzip stream is only known bad at its end: undo the whole archive
            written.unlink(missing_ok=True)
        raise BadInput(f"{path}: corrupt or truncated archive ({type(error).__name__}: {error})") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _place_one(name, size, stream, root, place, labels, result: Unpacked) -> None:
    target = _target(name, place, labels)
    if target is None:
        result.unlisted.append(name)
        return
    if write_member(stream, root / target, size, place.replace):
        result.written.append(root / target)
    else:
        result.kept += 1
