"""The FFmpeg encodings of UCF101-P's files (PROTOCOLS.md §4.2, §4.4-4.5; docs/ucf101p.md): the benchmark's two codec
commands, and OpenCV's `mp4v` writer that the benchmark writes every other corrupted file with.

- **codec1 / codec2** are SCH-VL `generate_noisy_videos.py`'s own command lines, `ffmpeg -i SRC -c:v mpeg2video
  -q:v 20s -c:a mp2 -f vob -y DST` and `ffmpeg -i SRC -c:v mpeg4 -q:v 15s DST`, run by the FFmpeg binary that the
  `imageio-ffmpeg` wheel ships. `-q:v q` clips the MPEG quantiser to 31 but also gives every frame the quality
  lambda = q * FF_QP2LAMBDA (118), which is not clipped, so the five severities are five levels. No encoder call
  of PyAV sets a frame's quality (an encoder with qmin = qmax = q only is milder at every q, and flat past 31), so
  the command itself is run; a missing binary is an error, never a fallback to that milder call.
- **mp4v** is OpenCV's `VideoWriter(fourcc 'mp4v')` restated with PyAV (`write_mp4v`).
"""
from __future__ import annotations

import functools
import shlex
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import torch

from synvid import video_io
from synvid.errors import BadInput, VideoReadError
from synvid.runs import atomic_write

# SCH-VL create_codec1 / create_codec2: the arguments between the input and the output, "{q}" = 20 s / 15 s
BENCHMARK_ARGS = {"codec1": ("-c:v", "mpeg2video", "-q:v", "{q}", "-c:a", "mp2", "-f", "vob"),
                  "codec2": ("-c:v", "mpeg4", "-q:v", "{q}")}
# The one argument the benchmark's command does not have. Its encoder threads are FFmpeg's "auto" (cores + 1, at
# most 16; one slice per thread), so its files depend on the machine: 16 is what "auto" gives on any machine with
# >= 15 cores (FFmpeg then cuts 320x240 into its 15 macroblock rows), and keeps ours the same on every machine.
THREADS = ("-threads", "16")


@functools.cache
def ffmpeg_version() -> str:
    """`ffmpeg -version`'s version field, e.g. "n9.0.2-17-g2a571b6068-20260930" (recorded with every codec file)."""
    out = subprocess.run([video_io.ffmpeg(), "-version"], capture_output=True, text=True, check=True).stdout.split()
    return out[2] if out[:2] == ["ffmpeg", "version"] else " ".join(out[:3])


def encoder_args(name: str, q: int) -> list[str]:
    if name not in BENCHMARK_ARGS:
        raise BadInput(f"{name!r} is not a codec corruption; those are {', '.join(BENCHMARK_ARGS)}")
    return [a.format(q=q) for a in BENCHMARK_ARGS[name]] + list(THREADS)


def _raw_input(shape) -> list[str]:
    """The uint8 RGB frames piped in: what `encode_frames` feeds the command instead of a file."""
    return video_io.piped_frames(shape[2], shape[1], 25)


def record(name: str, q: int, source: str = "file") -> dict:
    """What a codec file or result records: the command run (source "file": on the clean video file; "frames": on
    its decoded frames, piped in) and the binary's version."""
    given = ["-i", "SOURCE"] if source == "file" else _raw_input(("T", "H", "W"))
    return {"command": shlex.join(["ffmpeg", *given, *encoder_args(name, q), "-y", "OUTPUT"]),
            "ffmpeg": ffmpeg_version()}


def encode_file(name: str, q: int, src, dst) -> Path:
    """The benchmark's command on the video file `src`, written atomically to `dst` (its frames, audio and frame
    timing are the command's: a source with audio can come out one frame longer, as in the benchmark)."""
    if not Path(src).is_file():
        raise VideoReadError(f"video not found: {src}")
    args = encoder_args(name, q)
    return atomic_write(dst, lambda tmp: video_io.run_ffmpeg(["-i", str(src), *args, "-y", tmp], src))


def encode_frames(name: str, q: int, video: torch.Tensor) -> torch.Tensor:
    """The command's encoder arguments on uint8 [T, H, W, 3] frames (piped in as RGB; FFmpeg converts them to
    yuv420p), decoded again: the whole-video corruption of a decoded video. The frame rate does not change the
    frames at a fixed quality. On 320x240 photographs this is 0.05-0.15 dB below `encode_file` on the video's file
    (the frames went through RGB once more; docs/ucf101p.md)."""
    frames = video.cpu().numpy()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "v.avi"
        video_io.run_ffmpeg([*_raw_input(frames.shape), *encoder_args(name, q), "-y", str(out)],
                            f"{list(frames.shape)} frames", stdin=frames.tobytes())
        decoded = video_io.read_video(out)
    if decoded.shape != video.shape:
        raise VideoReadError(f"{name} changed the video from {list(video.shape)} to {list(decoded.shape)}")
    return decoded


# ---------------------------------------------------------------------------------------------- OpenCV's mp4v
def opencv_frame_rate(fps: float) -> Fraction:
    """cap_ffmpeg_impl.hpp's time base: fps as rate / base with base the first power of ten within 0.001
    (29.97002997 -> 2997/100)."""
    rate, base = int(fps + 0.5), 1
    while abs(rate / base - fps) > 0.001:
        base *= 10
        rate = int(fps * base + 0.5)
    return Fraction(rate, base)


def mp4v_settings(fps: float, width: int, height: int) -> dict:
    """The encoder fields OpenCV's writer sets for mpeg4 (cap_ffmpeg_impl.hpp, 4.6 to 4.14): bit rate b = fps*w*h
    (bitrate_scale 1), to which half of b is added twice (once in icv_configure_video_stream_FFMPEG, once in
    CvVideoWriter_FFMPEG::open), so 2 b; bit-rate tolerance the same; qmin 3; a key frame every 12; one thread
    (OpenCV leaves FFmpeg's default, where PyAV would slice the frame over every core)."""
    b = min(fps * width * height, (2 ** 31 - 1) / 2)                     # INT_MAX / 2
    rate = int(b + 0.5)
    rate = min(rate + rate // 2 + int(b / 2), 2 ** 31 - 1)
    return {"bit_rate": rate, "bit_rate_tolerance": rate, "qmin": 3, "gop_size": 12, "codec_tag": "mp4v",
            "thread_count": 1}


def write_mp4v(path, video: torch.Tensor, fps: float) -> Path:
    """uint8 [T, H, W, 3] RGB written as SCH-VL's `cv2.VideoWriter(path, fourcc('mp4v'), fps, size)` writes it:
    FFmpeg's mpeg4 with `mp4v_settings`, the frames given to swscale as BGR24 (OpenCV's frames; swscale's fast
    BGR24 -> yuv420p path differs from its RGB24 one by ~0.5 level of luma). Decodes to the same frames as OpenCV
    4.14's file (docs/ucf101p.md)."""
    return video_io.write_video(path, video, fps=opencv_frame_rate(fps), codec="mpeg4", crf=None,
                                context=mp4v_settings(fps, video.shape[2], video.shape[1]), pixels="bgr24")
