"""Resumable HTTP downloads: `<file>.partial` grows across tries and runs (HTTP range requests), and only a complete
file gets its final name. Plain urllib: a server that ignores ranges restarts the file, a dropped connection is
retried from where it stopped, a 4xx answer stops at once naming the URL.
"""
from __future__ import annotations

import http.client
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from synvid.errors import BadInput, MissingInput
from synvid.runs import PARTIAL

RETRIES = 6             # tries per file; each resumes from the bytes already on disk
BACKOFF_S = 1.0         # wait before try k: k x BACKOFF_S
TIMEOUT_S = 60          # per socket read: a stalled server counts as a dropped connection
CHUNK = 1 << 20
HEADERS = {"User-Agent": "synvid-prepare (+docs/data.md)"}
TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError)


def mirrored(url: str, base: str | None) -> str:
    """`url` with its scheme and host replaced by `base` (--mirror): the path stays, so a mirror of the official
    tree serves every archive, shard list and shard under the same names."""
    if not base:
        return url
    parts = urllib.parse.urlsplit(url)
    return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def remote_size(url: str) -> int | None:
    """Content-Length of a HEAD request; None when the server does not say (the space check then counts 0)."""
    request = urllib.request.Request(url, method="HEAD", headers=HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
    except TRANSIENT:
        return None
    return int(length) if length and length.isdigit() else None


def require_space(folder: Path, need: int, what: str) -> None:
    """Stop before any download when the file system of `folder` has less than `need` bytes free."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if need > free:
        raise BadInput(f"{what} needs about {need / 1e9:.1f} GB free under {folder}; {free / 1e9:.1f} GB are free "
                       "(a smaller --subset, or another --root)")


def _open(url: str, start: int):
    headers = {**HEADERS, **({"Range": f"bytes={start}-"} if start else {})}
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416:                   # nothing after `start`: the partial file may already be whole
            return error
        if 400 <= error.code < 500:
            raise MissingInput(f"{url}: HTTP {error.code} {error.reason} (another copy: --mirror BASE or --url URL)") \
                from error
        raise


def _receive(response, partial: Path, start: int, bar) -> tuple[int, int | None]:
    """Append the body to `partial` (from 0 when the server ignored the range); (bytes on disk, expected total)."""
    if response.status == 416:
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        return start, int(total) if total.isdigit() else None
    if response.status != 206:
        start = 0                               # a whole file answer: start over
        bar.reset()
    length = response.headers.get("Content-Length")
    total = start + int(length) if length and length.isdigit() else None
    bar.total = total
    with open(partial, "ab" if start else "wb") as out:
        while chunk := response.read(CHUNK):
            out.write(chunk)
            bar.update(len(chunk))
    return partial.stat().st_size, total


def download(url: str, dest: str | Path, progress: bool = True) -> Path:
    """Fetch `url` to `dest`, resuming `<dest>.partial` left by an earlier try or run."""
    dest = Path(dest)
    partial = dest.with_name(dest.name + PARTIAL)
    dest.parent.mkdir(parents=True, exist_ok=True)
    error: Exception | None = None
    with tqdm(unit="B", unit_scale=True, desc=dest.name, disable=not progress, leave=False) as bar:
        for attempt in range(RETRIES):
            have = partial.stat().st_size if partial.exists() else 0
            bar.reset()
            bar.update(have)
            try:
                with _open(url, have) as response:
                    size, total = _receive(response, partial, have, bar)
                if total is None or size == total:
                    os.replace(partial, dest)
                    return dest
                if size > total:                # not the file we resumed: start over
                    partial.unlink()
                error = ConnectionError(f"got {size} of {total} bytes")
            except MissingInput:
                raise
            except TRANSIENT as caught:
                error = caught
            time.sleep(BACKOFF_S * (attempt + 1))
    raise MissingInput(f"could not download {url} after {RETRIES} tries ({error}); run again to resume from "
                       f"{partial}")
