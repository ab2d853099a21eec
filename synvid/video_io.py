"""Video files: write with FFmpeg (H.264) or PyAV (MPEG), read with decord; clear errors for unreadable files.

torchvision >= 0.22 has no video I/O, so reading goes through decord (the reader official VideoMAE uses). H.264
goes through FFmpeg's command line (imageio-ffmpeg's binary), because PyAV's libx264 encoder gives other bytes from
run to run on the same frames (4-7 distinct files in 10 writes of one 64x64 clip with PyAV 18.1, with one encoder
thread too; the command line gives one), and a rendered set must be a function of its seed. mpeg4 and mpeg2video
go through PyAV, whose wheels carry them, with encoder fields OpenCV's writer sets (synvid.codecs).
"""
from __future__ import annotations

import subprocess
from fractions import Fraction

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from synvid.errors import BadInput, MissingInput, VideoReadError
from synvid.runs import atomic_write


# codec name -> (container suffixes it is written to, PyAV options)
CODECS = {
    "libx264": {"pix_fmt": "yuv420p"},
    "mpeg4": {"pix_fmt": "yuv420p"},
    "mpeg2video": {"pix_fmt": "yuv420p"},
}


FFMPEG_QUIET = ("-nostdin", "-hide_banner", "-loglevel", "error")      # no effect on the output
# A fixed thread count: x264's output depends on its number of threads, which FFmpeg's "auto" takes from the machine
H264_THREADS = ("-threads", "1")


def ffmpeg() -> str:
    """The FFmpeg binary (imageio-ffmpeg's, or the one IMAGEIO_FFMPEG_EXE names); a clear error if there is none."""
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as error:
        raise MissingInput(f"writing H.264 and the codec corruptions run FFmpeg's command line and need its binary: "
                           f"pip install imageio-ffmpeg ({error})") from error


def run_ffmpeg(argv: list[str], what, stdin: bytes | None = None) -> None:
    """`ffmpeg argv` (quiet); a VideoReadError naming `what` and the end of FFmpeg's message if it fails."""
    done = subprocess.run([ffmpeg(), *FFMPEG_QUIET, *argv], input=stdin, capture_output=True)
    if done.returncode:
        tail = done.stderr.decode(errors="replace").strip()[-600:]
        raise VideoReadError(f"ffmpeg could not encode {what} (exit {done.returncode}): {tail}")


def piped_frames(width, height, fps, pixels: str = "rgb24") -> list[str]:
    """FFmpeg's input arguments for uint8 frames piped to its standard input (`pixels` byte order)."""
    return ["-f", "rawvideo", "-pix_fmt", pixels, "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]


def _as_uint8_thwc(frames) -> np.ndarray:
    array = frames.cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise BadInput(f"expected uint8 frames [T, H, W, 3], got {array.dtype} {list(array.shape)}")
    return array


def frame_rate(fps) -> int | Fraction:
    """An exact rate for PyAV (a float such as 29.97 crashes it; MPEG codecs accept only the standard rates):
    integers stay integers, NTSC-like rates become n*1000/1001, the rest the nearest small fraction."""
    if isinstance(fps, Fraction) or float(fps).is_integer():
        return Fraction(fps) if isinstance(fps, Fraction) else int(round(float(fps)))
    ntsc = Fraction(round(float(fps) * 1.001) * 1000, 1001)
    return ntsc if abs(float(ntsc) - float(fps)) < 1e-3 else Fraction(float(fps)).limit_denominator(1001)


def write_video(path: str | Path, frames, fps: float = 25, codec: str = "libx264", crf: int | None = 18,
                qscale: int | None = None, context: dict | None = None, pixels: str = "rgb24") -> Path:
    """Write uint8 frames [T, H, W, 3] (RGB) to `path` atomically.

    `crf` applies to libx264 (18 is visually lossless); `qscale` (1-31, MPEG quantiser) to mpeg4 and
    mpeg2video; `context` sets encoder fields by name before the encoder opens (bit_rate, qmin, codec_tag, ...:
    OpenCV's writer, synvid.codecs.mp4v_settings). `pixels` "bgr24" hands the frames to swscale as BGR24, as OpenCV
    does (same colours, its conversion to yuv420p). H and W must be even for yuv420p.
    """
    import av

    array = _as_uint8_thwc(frames)
    if codec not in CODECS:
        raise BadInput(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    if pixels not in ("rgb24", "bgr24"):
        raise BadInput(f"pixels must be rgb24 or bgr24, got {pixels!r}")
    height, width = array.shape[1:3]
    if height % 2 or width % 2:
        raise BadInput(f"{path}: frame size {width}x{height} must be even for yuv420p")
    source = np.ascontiguousarray(array[..., ::-1]) if pixels == "bgr24" else array     # in `pixels` byte order
    if codec == "libx264":
        if qscale is not None or context:
            raise BadInput("qscale and context apply to mpeg4 and mpeg2video, not libx264 (use crf)")
        argv = [*piped_frames(width, height, frame_rate(fps), pixels), "-c:v", "libx264",
                "-pix_fmt", CODECS[codec]["pix_fmt"], *H264_THREADS, *(["-crf", str(crf)] if crf is not None else [])]
        return atomic_write(path, lambda tmp: run_ffmpeg([*argv, "-y", tmp], path, stdin=source.tobytes()))

    def write(tmp: str) -> None:
        with av.open(tmp, mode="w") as container:
            stream = container.add_stream(codec, rate=frame_rate(fps))
            stream.width, stream.height = width, height
            stream.pix_fmt = CODECS[codec]["pix_fmt"]
            for field, value in (context or {}).items():
                setattr(stream.codec_context, field, value)
            if qscale is not None:
                # A fixed MPEG quantiser (1-31). Not the ffmpeg CLI's -q:v, which also sets every frame's quality
                # (lambda = q * 118), a field PyAV does not expose (synvid.codecs runs the CLI for that).
                q = min(max(int(qscale), 1), 31)
                # The qscale flag + global_quality alone does not reach the encoder through PyAV 18 (file size
                # did not change with q: the frames' quality stays 0); pinning qmin = qmax = q fixes the quantiser.
                stream.codec_context.flags |= av.codec.context.Flags.qscale
                stream.codec_context.global_quality = q * 118
                stream.codec_context.qmin = stream.codec_context.qmax = q
            for frame in source:
                # converted here with one scaler thread: swscale's slice threads (which PyAV >= 18.1.1 asks for by
                # default) deadlock in a forked render worker once the parent process has used them
                frame = av.VideoFrame.from_ndarray(frame, format=pixels).reformat(format=stream.pix_fmt, threads=1)
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)

    return atomic_write(path, write)


def _open(path: str | Path, num_threads: int = 1, width: int = -1, height: int = -1):
    import decord

    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"video not found: {path}")
    try:
        reader = decord.VideoReader(str(path), num_threads=num_threads, width=width, height=height)
    except Exception as error:  # decord raises its own DECORDError and RuntimeError types
        raise VideoReadError(f"cannot decode video {path}: {error}") from error
    if len(reader) == 0:
        raise VideoReadError(f"video has no frames: {path}")
    return reader


def video_info(path: str | Path) -> dict:
    """Frame count, fps and size of a video (fps is read from the container, never assumed)."""
    reader = _open(path)
    height, width = reader[0].shape[:2]
    return {"num_frames": len(reader), "fps": float(reader.get_avg_fps()), "height": height, "width": width}


def read_video(path: str | Path, indices: Sequence[int] | Callable[[int], Sequence[int]] | None = None,
               num_threads: int = 1) -> torch.Tensor:
    """Decode frames (all, `indices`, or `indices(frame count)`) as uint8 [T, H, W, 3] RGB. Raises VideoReadError
    naming the file. A callable saves a second open of the file (video_info) where the frames depend on the count."""
    reader = _open(path, num_threads=num_threads)
    if indices is None:
        indices = range(len(reader))
    elif callable(indices):
        indices = indices(len(reader))
    indices = [int(i) for i in indices]
    if indices and (min(indices) < 0 or max(indices) >= len(reader)):
        raise VideoReadError(f"{path}: frame index out of range [0, {len(reader)}): {min(indices)}..{max(indices)}")
    try:
        frames = reader.get_batch(indices).asnumpy()
    except Exception as error:
        raise VideoReadError(f"cannot decode frames of {path}: {error}") from error
    return torch.from_numpy(frames)
