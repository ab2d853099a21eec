"""Run records and host memory a cluster run can trust (issue 13 §3-§7): bytes of a test item, the evaluation
loader's bound, config hashes and the resume check, bare boolean flags, fsynced writes."""
import os

import pytest
import torch

from synvid import runs
from synvid.config import FinetuneConfig, LinprobeConfig, PretrainConfig, RenderConfig, resolve, to_dict
from synvid.engine import common
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


def test_resume_compares_the_complete_config_and_names_the_keys(tmp_path):
    """Pre-training records its RenderConfig; resuming with another one is refused, naming the field."""
    smoke = dict(profile="smoke", dataset="moving_circles", bank="", render_size=64)
    saved = to_dict(resolve(PretrainConfig, "smoke"), resolve(RenderConfig, "smoke"), **smoke)
    torch.save({"config": {**saved, "world_size": 4}}, tmp_path / "last.pth")
    same = to_dict(resolve(PretrainConfig, "smoke", num_workers=1), resolve(RenderConfig, "smoke"), **smoke)
    common.check_resumable(tmp_path, same, {"num_workers"})            # world size and resume-free fields may change
    assert common.config_hash(same, {"num_workers"}) == common.config_hash(saved, {"num_workers"})
    other = to_dict(resolve(PretrainConfig, "smoke"), resolve(RenderConfig, "smoke", num_shapes=3), **smoke)
    with pytest.raises(ValueError, match=r"different settings \(RenderConfig.num_shapes\)"):
        common.check_resumable(tmp_path, other, set())
    with pytest.raises(ValueError, match=r"different settings \(bank\)"):
        common.check_resumable(tmp_path, {**same, "bank": "/banks/stat"}, {"num_workers"})
    # a run saved before RenderConfig was recorded used its profile's: that resumes, another does not
    torch.save({"config": to_dict(resolve(PretrainConfig, "smoke"), **smoke)}, tmp_path / "last.pth")
    common.check_resumable(tmp_path, same, {"num_workers"})
    with pytest.raises(ValueError, match="RenderConfig.num_shapes"):
        common.check_resumable(tmp_path, other, set())


def test_an_older_probe_resumes_without_the_fine_tuning_copies(tmp_path):
    """Before LinprobeConfig held only what differs from fine-tuning it also recorded copies of FinetuneConfig fields
    (model, epochs, ...); a field no section declares any more is read by nothing and takes no part in the check,
    while a changed declared one is still refused."""
    probe, tune = resolve(LinprobeConfig, "smoke"), resolve(FinetuneConfig, "smoke")
    new = to_dict(probe, tune, profile="smoke", dataset="toy_hmdb51")
    old = {**new, "LinprobeConfig": {**new["LinprobeConfig"], "model": tune.model, "epochs": tune.epochs}}
    torch.save({"config": old}, tmp_path / "last.pth")
    common.check_resumable(tmp_path, new, set())
    other = to_dict(resolve(LinprobeConfig, "smoke", base_lr=0.5), tune, profile="smoke", dataset="toy_hmdb51")
    with pytest.raises(ValueError, match=r"different settings \(LinprobeConfig.base_lr\)"):
        common.check_resumable(tmp_path, other, set())


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
