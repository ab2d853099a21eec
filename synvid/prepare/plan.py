"""Which files one `prepare` run fetches and from where: the source's archives for the selected K400 splits, its
shards from the CVDF lists, each taken from a local copy (--from-archive), another URL (--url, --mirror) or the
official one, with the hashes it must match; and whether the disk can hold them.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from synvid.errors import BadInput
from synvid.prepare.checksums import Checksums
from synvid.prepare.download import mirrored, remote_size, require_space
from synvid.prepare.sources import Archive, Hash, Place, Source
from synvid.runs import PARTIAL

SUBSETS = {"train": ("train",), "val": ("val",), "all": ("train", "val")}   # K400 --subset (the readers' splits)
ARCHIVES = "archives"       # under the root: downloads waiting to be unpacked (removed after, unless kept)


@dataclass
class Item:
    archive: Archive
    dest: Path              # where the fetched file lives
    local: Path | None      # a copy given with --from-archive (read in place, never removed)
    url: str | None         # where to download it otherwise
    expected: list          # hashes it must match (given with --sha256, else published)


def destination(root: Path, archive: Archive) -> Path:
    return root / archive.id if archive.place is None else root / ARCHIVES / archive.id


def _url_name(url: str) -> str:
    return PurePosixPath(urllib.parse.urlsplit(url).path).name


def _local(archive: Archive, paths: list[Path]) -> Path | None:
    for path in paths:
        if path.is_file() and path.name == PurePosixPath(archive.id).name:
            return path
        if path.is_dir() and (path / archive.id).is_file():
            return path / archive.id
    return None


def _local_shards(split: str, paths: list[Path]) -> list[Path]:
    """A CVDF downloader tree (`k400_targz/<split>/*.tar.gz`) given with --from-archive: its shards, no list."""
    return sorted(p for path in paths if path.is_dir() for p in (path / split).glob("*.tar.gz"))


def shard_archives(source: Source, root: Path, split: str, mirror: str | None, local: list[Path],
                   fetch: Callable[[str, Path], Path]) -> list[Archive]:
    """K400: one archive per shard of `split`, re-filed by that split's annotation CSV."""
    place = Place(split, labels=f"annotations/{split}.csv")
    shards = [f"file://{p}" for p in _local_shards(split, local)]
    if not shards:
        listing = fetch(mirrored(source.shard_lists[split], mirror), root / ARCHIVES / f"k400_{split}_path.txt")
        shards = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    return [Archive(f"{split}/{_url_name(url)}", url, place) for url in shards]


def items(source: Source, root: Path, subsets: tuple[str, ...], *, mirror=None, url=None, sha256=None,
          local: list[Path] = (), fetch: Callable[[str, Path], Path] | None = None) -> list[Item]:
    local = [Path(p) for p in local]
    archives = [a for a in source.archives if not a.split or a.split in subsets]
    if source.shard_lists:               # the replacements of corrupted train clips go in after the train shards
        shards = [a for split in subsets for a in shard_archives(source, root, split, mirror, local, fetch)]
        archives = [a for a in archives if a.place is None] + shards + [a for a in archives if a.place]
    target = _url_target(source, archives, url) if url else None
    planned = []
    for archive in archives:
        where = url if archive is target else archive.url
        copy = Path(where[len("file://"):]) if where and where.startswith("file://") else _local(archive, local)
        if where and archive is not target and copy is None:
            where = mirrored(where, mirror)
        published = [h for h in (archive.published,) if h]
        planned.append(Item(archive, destination(root, archive), copy, where, published))
    _unused(local, planned, source)
    if sha256:
        _given_hash(planned, target, local, sha256)
    return planned


def _given_hash(planned: list[Item], target: Archive | None, local: list[Path], sha256: str) -> None:
    """--sha256 replaces the published hash of the one file given by --url, or by a single --from-archive file."""
    given = [i for i in planned if i.archive is target or (len(local) == 1 and i.local == local[0])]
    if len(given) != 1:
        raise BadInput("--sha256 checks one file: the one given with --url, or a single --from-archive file")
    given[0].expected = [Hash("sha256", sha256.lower(), "--sha256")]


def _url_target(source: Source, archives: list[Archive], url: str) -> Archive:
    """--url replaces the only file of a source, else the one of the same name."""
    if len(source.archives) == 1:
        return archives[0]
    for archive in archives:
        if PurePosixPath(archive.id).name == _url_name(url):
            return archive
    names = ", ".join(PurePosixPath(a.id).name for a in archives)
    raise BadInput(f"--url {url}: its file name matches none of {source.name}'s files ({names}); "
                   "--mirror BASE swaps the host of them all")


def _unused(local: list[Path], planned: list[Item], source: Source) -> None:
    used = {item.local for item in planned}
    for path in local:
        if not path.exists():
            raise BadInput(f"--from-archive {path} does not exist")
        if path.is_file() and path not in used:
            names = ", ".join(PurePosixPath(i.archive.id).name for i in planned)
            raise BadInput(f"--from-archive {path}: not one of {source.name}'s files ({names})")


def check_space(planned: list[Item], store: Checksums, root: Path, keep: bool, what: str) -> None:
    """About what the unpacked files take (as much as their archives: video and JPEG do not compress) plus the
    archives while they wait (all of them with --keep-archives, else the largest); stops before any download."""
    pending = [i for i in planned if not store.unpacked(i.archive.id) and not (i.dest.is_file() and
                                                                             i.archive.place is None)]
    sizes = []
    for item in pending:
        size = item.local.stat().st_size if item.local else (remote_size(item.url) if item.url else None) or 0
        partial = item.dest.with_name(item.dest.name + PARTIAL)
        sizes.append((item, size, partial.stat().st_size if partial.is_file() else 0))
    unpacked = sum(size for item, size, _ in sizes if item.archive.place is not None)
    waiting = [size - have for item, size, have in sizes if item.archive.place is not None and not item.local]
    plain = sum(size - have for item, size, have in sizes if item.archive.place is None and not item.local)
    require_space(root, unpacked + plain + (sum(waiting) if keep else max(waiting, default=0)), what)
