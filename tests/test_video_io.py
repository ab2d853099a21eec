import hashlib

import pytest
import torch

from synvid.data.lists import read_list, write_list
from synvid.errors import VideoReadError
from synvid.video_io import read_video, video_info, write_video


@pytest.mark.parametrize("kind", ["mp4", "avi"])
def test_written_video_decodes_to_the_frames(tiny_videos, kind):
    frames = read_video(tiny_videos[kind])
    assert frames.shape == tiny_videos["clip"].shape and frames.dtype == torch.uint8
    error = (frames.float() - tiny_videos["clip"].float()).abs().mean()
    assert error < 6, f"mean abs error {error} beyond codec tolerance"


def test_info_and_index_subset(tiny_videos):
    info = video_info(tiny_videos["mp4"])
    assert info["num_frames"] == 8 and info["fps"] == pytest.approx(25) and (info["height"], info["width"]) == (32, 32)
    assert torch.equal(read_video(tiny_videos["mp4"], [1, 3]), read_video(tiny_videos["mp4"])[[1, 3]])
    seen = []   # a callable gets the frame count of the one open and returns the frames to decode
    picked = read_video(tiny_videos["mp4"], lambda n: seen.append(n) or [n - 1, 0])
    assert seen == [8] and torch.equal(picked, read_video(tiny_videos["mp4"])[[7, 0]])


def test_unreadable_videos_name_the_file(tmp_path):
    with pytest.raises(VideoReadError, match="missing.avi"):
        read_video(tmp_path / "missing.avi")
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(b"RIFF not really a video")
    with pytest.raises(VideoReadError, match="corrupt.avi"):
        read_video(corrupt)


def test_bad_frames_are_refused_and_nothing_is_left_behind(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "x.mp4", torch.zeros(2, 8, 8, 3))
    assert list(tmp_path.iterdir()) == []


def test_list_file_round_trip(tmp_path):
    path = write_list(tmp_path / "train.csv", [(tmp_path / "a.mp4", 0), ("b/c.mp4", 3)])
    assert path.read_text().splitlines()[1] == "b/c.mp4 3"
    items = read_list(path)
    assert items[0] == (str(tmp_path / "a.mp4"), 0) and items[1] == (str(tmp_path / "b" / "c.mp4"), 3)
    with pytest.raises(ValueError, match="whitespace"):
        write_list(tmp_path / "bad.csv", [("has space.mp4", 0)])


@pytest.mark.parametrize("fps, codec", [(29.97, "libx264"), (29.97, "mpeg2video"), (12.5, "mpeg4")])
def test_non_integer_frame_rates_are_written_exactly(tmp_path, fps, codec):
    """UCF101 / HMDB51 videos report rates such as 29.97; PyAV needs an exact rate (MPEG-2: a standard one)."""
    from synvid.video_io import frame_rate, video_info, write_video
    path = write_video(tmp_path / "v.avi", torch.zeros(4, 32, 32, 3, dtype=torch.uint8), fps=fps, codec=codec, crf=None)
    assert abs(video_info(path)["fps"] - fps) < 0.01 and frame_rate(25) == 25


def test_writing_the_same_frames_twice_gives_the_same_file(tmp_path):
    """A rendered set is a function of its seed only if the encoder is: H.264 goes through FFmpeg's command line with
    one thread (PyAV's libx264 gave 4-7 different files in 10 writes of this video, PyAV 18.1)."""
    from synvid.config import RenderConfig, resolve
    from synvid.render import video
    cfg = resolve(RenderConfig, "smoke")
    frames = video.render("accelerating_transforming_shapes", 1, seed=0, size=cfg.size, cfg=cfg).numpy()
    digests = {hashlib.sha1(write_video(tmp_path / f"v{i}.mp4", frames).read_bytes()).hexdigest() for i in range(8)}
    assert len(digests) == 1
