"""synvid.codecs against the references themselves: the codec corruptions against the benchmark's own ffmpeg command
lines (SCH-VL generate_noisy_videos.py, run verbatim by every FFmpeg binary found here), and the mp4v pass against
OpenCV's VideoWriter (PROTOCOLS.md §4.2, §4.4-4.5; docs/ucf101p.md)."""
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from synvid import codecs, corruptions, video_io
from synvid.video_io import read_video, write_video

# SCH-VL generate_noisy_videos.py create_codec1 / create_codec2, as written there
BENCHMARK = {"codec1": 'ffmpeg -i "{}" -c:v mpeg2video -q:v {} -c:a mp2 -f vob -y "{}" ',
             "codec2": 'ffmpeg -i "{}" -c:v mpeg4 -q:v {} "{}"'}


def _photo_video(t=8, h=64, w=80) -> torch.Tensor:
    """A window panned across a photograph: natural content for the encoders."""
    from skimage import data
    image = data.astronaut()
    return torch.from_numpy(np.stack([image[100 + 2 * i:100 + 2 * i + h, 150 + 3 * i:150 + 3 * i + w]
                                      for i in range(t)]))


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * np.log10(255 ** 2 / ((a.double() - b.double()) ** 2).mean().item())


def _binaries() -> list[str]:
    """imageio-ffmpeg's binary (a runtime dependency), and a system ffmpeg CLI where one is installed."""
    found = [video_io.ffmpeg()] + [p for p in [shutil.which("ffmpeg")] if p]
    return list(dict.fromkeys(found))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A clean source file as UCF101's (an MPEG-4 part 2 .avi) and its decoded frames."""
    path = write_video(tmp_path_factory.mktemp("src") / "v_Photo_g01_c01.avi", _photo_video(), codec="mpeg4",
                       crf=None, qscale=2)
    return path, read_video(path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["codec1", "codec2"])
def test_each_severity_reproduces_the_benchmark_command(name, source, tmp_path):
    """Every severity within 0.25 dB PSNR (against the clean frames) of the benchmark's command line run verbatim,
    by each FFmpeg binary here; five distinct levels (the quantiser stops at 31, the frames' lambda = q * 118 does
    not, so no clamp). The on-the-fly path (decoded frames piped in) stays within 0.35 dB: one RGB round trip more."""
    path, clean = source
    ours = [_psnr(read_video(corruptions.write_whole_video(name, path, s, tmp_path / f"ours{s}.avi")), clean)
            for s in range(1, 6)]
    frames = [_psnr(corruptions.apply(name, clean, s), clean) for s in range(1, 6)]
    assert all(a > b for a, b in zip(ours, ours[1:])), ours                     # five levels, none flat past q 31
    for k, exe in enumerate(_binaries()):
        for severity, q in enumerate(corruptions.REGISTRY[name].params, 1):
            out = tmp_path / f"ref{k}_{severity}.avi"                          # a new file: codec2's has no -y
            subprocess.run([exe, "-nostdin", *shlex.split(BENCHMARK[name].format(path, q, out))[1:]], check=True,
                           capture_output=True)
            reference = _psnr(read_video(out), clean)
            assert abs(ours[severity - 1] - reference) <= 0.25, (exe, severity, ours, reference)
            assert abs(frames[severity - 1] - reference) <= 0.35, (exe, severity, frames, reference)


def test_commands_and_records():
    """The recorded command is the benchmark's (arguments in its order, -q:v 20 s and 15 s unclipped) plus the one
    thread setting; every record carries the binary's version."""
    rec = codecs.record("codec1", 80)
    assert rec["command"] == "ffmpeg -i SOURCE -c:v mpeg2video -q:v 80 -c:a mp2 -f vob -threads 16 -y OUTPUT"
    assert rec["ffmpeg"] == codecs.ffmpeg_version() and rec["ffmpeg"]
    piped = codecs.record("codec2", 75, source="frames")["command"]
    assert piped.startswith("ffmpeg -f rawvideo -pix_fmt rgb24 ")
    assert piped.endswith(" -i - -c:v mpeg4 -q:v 75 -threads 16 -y OUTPUT")
    with pytest.raises(ValueError, match="not a codec"):
        codecs.encoder_args("jpeg", 10)


def test_missing_binary_is_a_clear_error_never_the_milder_call(monkeypatch, tmp_path):
    """No FFmpeg binary: the codecs stop with an error naming imageio-ffmpeg (no PyAV fallback)."""
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)                   # import imageio_ffmpeg fails
    monkeypatch.setattr(codecs, "ffmpeg_version", codecs.ffmpeg_version.__wrapped__)   # not the cached answer
    for call in (lambda: corruptions.apply("codec1", _photo_video(t=2), 2),
                 lambda: corruptions.write_whole_video("codec2", __file__, 1, tmp_path / "x.avi"),
                 lambda: codecs.record("codec1", 20)):
        with pytest.raises(FileNotFoundError, match="pip install imageio-ffmpeg"):
            call()
    assert not (tmp_path / "x.avi").exists()


def test_encoding_errors_name_the_file(tmp_path):
    bad = tmp_path / "not_a_video.avi"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(RuntimeError, match="not_a_video.avi"):
        codecs.encode_file("codec2", 15, bad, tmp_path / "out.avi")
    with pytest.raises(RuntimeError, match="not found"):
        codecs.encode_file("codec2", 15, tmp_path / "missing.avi", tmp_path / "out.avi")
    with pytest.raises(ValueError, match="not a whole-video"):
        corruptions.write_whole_video("jpeg", bad, 2, tmp_path / "out.avi")
    with pytest.raises(ValueError, match="severity"):
        corruptions.write_whole_video("codec1", bad, 0, tmp_path / "out.avi")
    assert not (tmp_path / "out.avi").exists()


def test_opencv_writer_settings():
    """cap_ffmpeg_impl.hpp (4.6-4.14): bit rate fps*w*h plus half of it twice = 2x, the same tolerance, qmin 3,
    gop 12, one thread; its time base fps = rate / 10^k."""
    settings = codecs.mp4v_settings(25.0, 320, 240)
    assert settings == {"bit_rate": 3_840_000, "bit_rate_tolerance": 3_840_000, "qmin": 3, "gop_size": 12,
                        "codec_tag": "mp4v", "thread_count": 1}
    assert codecs.mp4v_settings(30000 / 1001, 320, 240)["bit_rate"] == 2301698 + 1150849 + 1150849   # b = 2301698.3
    assert codecs.opencv_frame_rate(30000 / 1001) == codecs.Fraction(2997, 100)
    assert codecs.opencv_frame_rate(25.0) == 25


@pytest.mark.parametrize("noisy", [False, True])
def test_mp4v_pass_matches_opencv(tmp_path, noisy):
    """The benchmark's mp4v pass (cv2.VideoWriter(path, fourcc('mp4v'), fps, size), BGR frames) against OpenCV itself:
    file size within 15% and PSNR against the input within 0.2 dB, on clean and on noisy input (OpenCV 4.14 and
    synvid decode to identical frames; 4.6's older FFmpeg: sizes within 1%, PSNR within 0.04 dB)."""
    cv2 = pytest.importorskip("cv2")
    video = _photo_video(t=16)
    if noisy:
        video = corruptions.apply("gaussian_noise", video, 3, seed=0)
    writer = cv2.VideoWriter(str(tmp_path / "cv.avi"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (80, 64))
    for frame in video.numpy():
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    ours = codecs.write_mp4v(tmp_path / "ours.avi", video, 25.0)
    ratio = ours.stat().st_size / (tmp_path / "cv.avi").stat().st_size
    gap = _psnr(read_video(ours), video) - _psnr(read_video(tmp_path / "cv.avi"), video)
    assert abs(ratio - 1) <= 0.15 and abs(gap) <= 0.2, (ratio, gap)
