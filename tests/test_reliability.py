"""Run records and host memory a cluster run can trust: bytes of a test item, the evaluation
loader's bound, bare boolean flags, fsynced writes (config hashes and the resume check: tests/test_run_dir.py)."""
import os

import pytest
import torch

from synvid import runs
from synvid.config import FinetuneConfig
from synvid.engine.evaluate import LOADER_BYTES, loader_batch_size, loader_bytes, to_model_input
from synvid.transforms import normalize


def test_a_paper_profile_test_item_is_uint8_and_under_40_mb(tmp_path, tiny_clip):
    """16 frames x 224^2, 5 segments x 3 crops (Table 6): 36.1 MB of bytes per video (145 MB as float32)."""
    from synvid.data.video_dataset import TestViews
    from synvid.video_io import write_video
    video = write_video(tmp_path / "v.avi", tiny_clip.repeat(8, 1, 1, 1), fps=25, codec="mpeg4", qscale=2)
    data = TestViews([(str(video), 0)], num_frames=16, sampling_rate=4, num_segments=5, num_crops=3, size=224)
    views = data[0][0]
    assert views.dtype == torch.uint8 and views.shape == (15, 16, 224, 224, 3)
    assert views.nbytes == data.item_bytes() == 15 * 16 * 224 * 224 * 3 <= 40e6
    # the loader of a rank with 8 workers (queued, collating and building items; main batch + pinned) <= 2 GiB
    batch = loader_batch_size(16, views.nbytes, 8)
    assert batch == 1 and loader_bytes(batch, views.nbytes, 8) <= LOADER_BYTES == 2 * 2**30
    assert loader_batch_size(16, views.nbytes // 16, 8) > 1          # smaller items: larger batches
    # normalised on the device: the float views the model saw before (one normalize per view)
    model_input = to_model_input(views[None, :2], "cpu")
    assert torch.equal(model_input, torch.stack([normalize(v) for v in views[:2]]))


def test_bare_boolean_flags_mean_true():
    import argparse

    from synvid.config import add_arguments, settings
    parser = argparse.ArgumentParser()
    add_arguments(parser, FinetuneConfig)

    def parsed(flags):
        return settings(FinetuneConfig, "smoke", flags=parser.parse_args(flags))[0]
    assert parsed(["--allow-missing"]).allow_missing is True
    assert parsed(["--bf16", "false"]).bf16 is False
    assert parsed([]).allow_missing is False


def test_atomic_write_fsyncs_file_and_directory_around_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.path.basename(dst)))
        real_replace(src, dst)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    runs.atomic_write_text(tmp_path / "DONE", "{}")
    assert events == [("fsync", "file"), ("fsync", "dir"), ("replace", "DONE"), ("fsync", "dir")]
    assert (tmp_path / "DONE").read_text() == "{}" and not list(tmp_path.glob(".*partial*"))
