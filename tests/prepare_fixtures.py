"""Helpers of the data-preparation tests: a RAR 4 writer, a local HTTP server and small copies of every official
download (same names, same formats, same paths as the official URLs, tiny contents).

The RAR writer follows the RAR 4.x format (RARLAB technote.txt of RAR 2.9-4.x): the marker block `Rar!\\x1a\\x07\\x00`,
an archive header (type 0x73), one file header (type 0x74) per member followed by its data, stored (method 0x30,
no compression), and the end-of-archive block (0x7b); each header starts with the low 16 bits of the CRC32 of its
bytes after the CRC, each file header carries the CRC32 of the member. Names use the Windows separator and host OS
as WinRAR archives do. No RAR writer is installable here, and stored members are exactly what `rarfile` reads
without an extractor (compressed ones need unar; the tool path is tested on these archives too).
"""
from __future__ import annotations

import csv
import http.server
import io
import socket
import struct
import tarfile
import tempfile
import threading
import urllib.parse
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from synvid.data import toy
from synvid.prepare import sources
from synvid.video_io import write_video


def _block(kind: int, flags: int, body: bytes) -> bytes:
    rest = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest


def rar4(members: list[tuple[str, bytes]], solid: bool = False) -> bytes:
    """A RAR 4 archive of stored `members` ((name with '/', data)); `solid` sets the solid flags."""
    dos_time = (2012 - 1980) << 25 | 1 << 21 | 1 << 16          # 2012-01-01 00:00
    out = bytearray(b"Rar!\x1a\x07\x00") + _block(0x73, 0x0008 if solid else 0, bytes(6))
    for index, (name, data) in enumerate(members):
        encoded = name.replace("/", "\\").encode()
        body = struct.pack("<IIBIIBBHI", len(data), len(data), 2, zlib.crc32(data), dos_time, 20, 0x30,
                           len(encoded), 0x20) + encoded
        flags = 0x8000 | (0x0010 if solid and index else 0)     # long block; "solid: uses earlier data"
        out += _block(0x74, flags, body) + data
    return bytes(out + _block(0x7B, 0x4000, b""))


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(members: list[tuple[str, bytes]], gz: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tar_contents(data: bytes) -> list[bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        return [archive.extractfile(info).read() for info in archive if info.isfile()]


def tree_members(root: Path, prefix: str = "", pattern: str = "**/*") -> list[tuple[str, bytes]]:
    return [(prefix + p.relative_to(root).as_posix(), p.read_bytes())
            for p in sorted(root.glob(pattern)) if p.is_file() and not p.name.startswith(".")
            and p.name not in ("config.json", "DONE")]


def url_path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


class Server:
    """HTTP on 127.0.0.1 for `files` ({URL path: bytes}): GET with byte ranges, HEAD. `drop` paths lose their
    connection half way through the first GET; `ignore_range` answers every GET with the whole file."""

    def __init__(self, files: dict, drop=(), ignore_range: bool = False):
        self.files, self.drop, self.ignore_range, self.requests = files, set(drop), ignore_range, []
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "Server":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: Server

    def log_message(self, *args) -> None:       # quiet
        pass

    def _data(self) -> bytes | None:
        data = self.owner.files.get(url_path(self.path))
        if data is None:
            self.send_error(404)
        return data

    def do_HEAD(self) -> None:
        if (data := self._data()) is not None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()

    def do_GET(self) -> None:
        data = self._data()
        if data is None:
            return
        self.owner.requests.append((url_path(self.path), self.headers.get("Range")))
        start = int(self.headers.get("Range", "bytes=0-")[6:].split("-")[0] or 0)
        if self.owner.ignore_range or start == 0:
            status, start = 200, 0
        elif start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.end_headers()
            return
        else:
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if url_path(self.path) in self.owner.drop:
            self.owner.drop.discard(url_path(self.path))
            self.wfile.write(data[start:start + (len(data) - start) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)       # the client sees a short body
            self.close_connection = True
            return
        self.wfile.write(data[start:])


def _official(name: str, archive_id: str) -> str:
    return url_path(next(a.url for a in sources.get(name).archives if a.id == archive_id))


def ucf101_files(work: Path) -> dict:
    """UCF101.rar (UCF-101/<Class>/*.avi) and the split zip (ucfTrainTestlist/: 3 splits, CRLF test lists)."""
    tree = toy.make_toy_ucf101(work / "ucf101_tree", num_classes=2, groups=3, clips_per_group=2, frames=8)
    lists = tree / "ucfTrainTestlist"
    for k in (2, 3):                             # the same lists again: three splits, as distributed
        for kind in ("train", "test"):
            (lists / f"{kind}list0{k}.txt").write_bytes((lists / f"{kind}list01.txt").read_bytes())
    return {_official("ucf101", "UCF101.rar"): rar4(tree_members(tree, pattern="UCF-101/**/*")),
            _official("ucf101", "UCF101TrainTestSplits-RecognitionTask.zip"):
                zip_of(tree_members(tree, pattern="ucfTrainTestlist/*"))}


def hmdb51_files(work: Path) -> dict:
    """hmdb51_org.rar (a RAR of one RAR per class) and test_train_splits.rar (3 splits)."""
    tree = toy.make_toy_hmdb51(work / "hmdb51_tree", num_classes=2, per_class=4, test_per_class=1, frames=8)
    lists = tree / "testTrainMulti_7030_splits"
    for path in sorted(lists.glob("*_test_split1.txt")):
        for k in (2, 3):
            path.with_name(path.name.replace("split1", f"split{k}")).write_bytes(path.read_bytes())
    classes = sorted(p.name for p in tree.iterdir() if p.is_dir() and p != lists)
    inner = [(f"{c}.rar", rar4(tree_members(tree, pattern=f"{c}/*"))) for c in classes]
    return {_official("hmdb51", "hmdb51_org.rar"): rar4(inner),
            _official("hmdb51", "test_train_splits.rar"): rar4(tree_members(tree, pattern=f"{lists.name}/*"))}


K400_CLASSES = ("abseiling", "air drumming")      # a label with a space, quoted in the CSV as in the official one


def _clip(seed: int) -> bytes:
    """An 8-frame H.264 .mp4, as the CVDF shards hold."""
    frames = np.random.default_rng(seed).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        return write_video(Path(folder) / "clip.mp4", frames, fps=25).read_bytes()


def k400_files(work: Path) -> dict:
    """CSVs, shard lists, tar.gz shards of flat `<id>_<s>_<e>.mp4`, the replacement tgz. One train clip is in no
    shard (a YouTube takedown: 1 of 6, under the 20 % limit); one is corrupt in its shard and replaced."""
    rows = {split: [(label, f"{split[:2]}{label[:2]}{i:07d}"[:11], 10 * i, 10 * i + 10)
                    for label in K400_CLASSES for i in range(3 if split == "train" else 1)] for split in ("train", "val")}
    files, base = {}, url_path(sources.CVDF)
    for split, entries in rows.items():
        text = io.StringIO()
        writer = csv.writer(text, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
        writer.writerows([(label, yid, s, e, split, 0) for label, yid, s, e in entries])
        files[f"{base}/annotations/{split}.csv"] = text.getvalue().replace("air drumming", '"air drumming"').encode()
        clips = [(f"{yid}_{s:06d}_{e:06d}.mp4", _clip(s + 1000 * (split == "val"))) for _, yid, s, e in entries]
        if split == "train":
            clips = clips[1:]                                                   # the first clip was taken down
            name, data = clips[0]
            clips[0] = (name, data[:len(data) // 3])                            # a corrupted clip ...
            fixed = (f"replacement_for_corrupted_k400/{name}", _clip(7))         # ... and its replacement
            files[f"{base}/replacement_for_corrupted_k400.tgz"] = tar_of([fixed], gz=True)
        shards = [clips[:len(clips) // 2], clips[len(clips) // 2:]]
        urls = [f"{sources.CVDF}/{split}/part_{i}.tar.gz" for i in range(len(shards))]
        for url, shard in zip(urls, shards):
            files[url_path(url)] = tar_of(shard, gz=True)
        files[url_path(sources.get("k400").shard_lists[split])] = "".join(u + "\n" for u in urls).encode()
    return files


def imagenet_archive(path: Path) -> Path:
    """ILSVRC2012_img_train.tar in miniature: a tar of per-class tars of JPEGs (one a PNG, as in the real one)."""
    inner = []
    for c, wnid in enumerate(("n01440764", "n01443537")):
        images = []
        for i in range(3):
            buffer = io.BytesIO()
            pixels = np.random.default_rng([c, i]).integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(buffer, format="PNG" if (c, i) == (1, 2) else "JPEG")
            images.append((f"{wnid}_{i}.JPEG", buffer.getvalue()))
        inner.append((f"{wnid}.tar", tar_of(images)))
    path.write_bytes(tar_of(inner))
    return path


def weight_files() -> dict:
    """Stand-ins for the two weight files at their official paths (their hashes are given with --sha256)."""
    return {_official(name, sources.get(name).archives[0].id): bytes(np.random.default_rng(k).integers(
        0, 256, 4096, dtype=np.uint8)) for k, name in enumerate(("inception", "i3d"))}


def corrupt(data: bytes) -> bytes:
    """The same archive with one byte flipped in its middle (a bad mirror)."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]

