"""Cheap per-file checks of a video or image tree, and a full decode of a sample.

A truncated AVI still opens and reports its header's frame count (the header is at the start), so the cheap check
reads the container's own size records too: the RIFF size of an AVI, the top-level box sizes of an MP4. Then PyAV
opens the file (no decoding) and must find a video stream with frames. The sample is decoded with decord, the
library training reads with (`synvid.video_io`, which this module does not import: it would bring torch, seconds
of start-up for a command that needs none).
"""
from __future__ import annotations

import random
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

import av
import decord
from PIL import Image
from tqdm import tqdm


def avi_problem(path: Path, size: int) -> str | None:
    with open(path, "rb") as f:
        head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        return "not an AVI file (no RIFF/AVI header)"
    declared = struct.unpack("<I", head[4:8])[0] + 8
    if size < declared:
        return f"truncated: its RIFF header declares {declared} bytes, the file has {size}"
    return None


def mp4_problem(path: Path, size: int) -> str | None:
    offset, boxes = 0, []
    with open(path, "rb") as f:
        while offset < size:
            f.seek(offset)
            head = f.read(16)
            if len(head) < 8:
                return f"truncated inside a box header at byte {offset}"
            length, kind = struct.unpack(">I4s", head[:8])
            if length == 1 and len(head) == 16:
                length = struct.unpack(">Q", head[8:16])[0]
            elif length == 0:                       # the last box runs to the end of the file
                length = size - offset
            if length < 8:
                return f"corrupt box size {length} at byte {offset}"
            boxes.append(kind)
            offset += length
    if offset > size:
        return f"truncated: box {boxes[-1].decode(errors='replace')!r} ends at byte {offset}, the file has {size}"
    if b"moov" not in boxes:
        return "no 'moov' box (an interrupted download or recording)"
    return None


STRUCTURE = {".avi": avi_problem, ".mp4": mp4_problem, ".m4v": mp4_problem, ".mov": mp4_problem}


def video_problem(path: str | Path) -> str | None:
    """What is wrong with one video file, or None: non-empty, its container's sizes add up, PyAV opens it and its
    video stream reports frames."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        return f"unreadable ({error})"
    if size == 0:
        return "empty file"
    structure = STRUCTURE.get(path.suffix.lower())
    problem = structure(path, size) if structure else None
    if problem:
        return problem
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "no video stream"
            stream = container.streams.video[0]
            if not stream.frames and not (stream.duration or container.duration):
                return "the container reports no frames"
    except Exception as error:      # PyAV raises its own FFmpegError types and ValueError / OSError
        return f"cannot open ({error})"
    return None


def image_problem(path: str | Path) -> str | None:
    path = Path(path)
    return "empty file" if path.stat().st_size == 0 else None


def decode_video(path: Path, batch: int = 64) -> str | None:
    """Every frame through decord, in batches (a 10-s K400 clip at 320 px is 300 frames)."""
    try:
        reader = decord.VideoReader(str(path), num_threads=1)
        for start in range(0, len(reader), batch):
            reader.get_batch(list(range(start, min(start + batch, len(reader))))).asnumpy()
    except Exception as error:      # decord raises DECORDError and RuntimeError for broken streams
        return f"does not decode fully ({error})"
    return None if len(reader) else "decodes to no frames"


def decode_image(path: Path) -> str | None:
    try:
        with Image.open(path) as image:
            image.convert("RGB").load()
    except Exception as error:      # PIL raises UnidentifiedImageError, OSError, SyntaxError for broken files
        return f"does not decode ({error})"
    return None


def scan(paths: Iterable[Path], check: Callable[[Path], str | None], workers: int = 4,
         progress: bool = True, what: str = "check") -> list[str]:
    """`check` over every path in threads (the work is file I/O and FFmpeg); '<path>: <problem>' for each failure."""
    paths = list(paths)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(tqdm(pool.map(check, paths), total=len(paths), desc=what, unit="file",
                            disable=not progress, leave=False))
    return [f"{path}: {problem}" for path, problem in zip(paths, results) if problem]


def decode_sample(paths: list[Path], count: int, decode: Callable[[Path], str | None], seed: int = 0) -> list[str]:
    """Fully decode `count` files drawn with `seed` (the same sample on every run)."""
    chosen = random.Random(seed).sample(sorted(paths), min(count, len(paths)))
    return [f"{path}: {problem}" for path in chosen if (problem := decode(path))]
