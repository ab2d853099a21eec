"""Pre-training engine: data determinism, data order, resume, NaN guard, torchrun (gloo, 2 processes), CLI errors.

Everything runs on CPU with the tiny model (4 frames, 32x32) of the `smoke` profile over a list file of tiny
.mp4 videos written here in the official VideoMAE list format.
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synvid.config import PretrainConfig, resolve
from synvid.data.lists import write_list
from synvid.data.pretrain_data import PretrainDataset, StepSampler, VideoListClips
from synvid.data.sampling import pretrain_clip_indices
from synvid.engine import common, objectives
from synvid.engine.pretrain import build_dataset, run
from synvid.runs import JsonlLog
from synvid.video_io import write_video

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "pretrain" / "3_2_pretrain.py")


@pytest.fixture(scope="module")
def video_list(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrain_videos")
    rng = np.random.default_rng(0)
    for i in range(8):  # 64x48 (decord mis-decodes some tiny widths such as 48)
        write_video(folder / f"v{i}.mp4", (rng.random((12, 48, 64, 3)) * 255).astype(np.uint8), fps=25)
    return write_list(folder / "train.csv", [(f"v{i}.mp4", 0) for i in range(8)])


def smoke(**kw) -> PretrainConfig:
    kw.setdefault("epochs", 3)
    return resolve(PretrainConfig, "smoke", **kw)


def losses(run_dir) -> list[float]:
    return [r["loss"] for r in JsonlLog(Path(run_dir) / "log.jsonl").read()]


def test_clip_sampling_and_dataset_are_deterministic(video_list):
    g = torch.Generator().manual_seed(0)
    assert pretrain_clip_indices(10, 4, 4, g) == [0, 4, 8, 9]  # short video: window 16 > 10: start 0, last repeats
    idx = pretrain_clip_indices(100, 16, 4, torch.Generator().manual_seed(1))
    assert np.all(np.diff(idx) == 4) and 0 <= idx[0] <= 36
    clips = VideoListClips(video_list, num_frames=4, sampling_rate=2, seed=0)
    data = PretrainDataset(clips, input_size=32, mask_ratio=0.75, num_frames=4)
    (v1, m1), (v2, m2) = data[(1, 3)], data[(1, 3)]
    assert v1.shape == (3, 4, 32, 32) and v1.dtype == torch.float32 and torch.equal(v1, v2) and torch.equal(m1, m2)
    assert m1.shape == (8,) and int(m1.sum()) == 2 * 3  # window (2,2,2); int(.75*4) = 3 masked per slot
    assert torch.equal(m1[:4], m1[4:])  # tubes: the same spatial mask in every time slot
    assert not torch.equal(data[(2, 3)][0], v1)  # another epoch, another view


def test_step_sampler_partitions_global_batches():
    kw = dict(total_batch=4, world_size=2, seed=0, total_steps=6)
    r0 = list(StepSampler(10, rank=0, start_step=0, **kw))
    r1 = list(StepSampler(10, rank=1, start_step=0, **kw))
    assert len(r0) == len(r1) == 12  # 10 // 4 = 2 steps per epoch (drop_last), 2 per rank per step
    for step in range(6):
        both = r0[2 * step:2 * step + 2] + r1[2 * step:2 * step + 2]
        assert len({i for _, i in both}) == 4 and {e for e, _ in both} == {step // 2}
    assert list(StepSampler(10, rank=0, start_step=4, **kw)) == r0[8:]  # resume skips exactly the done steps
    single = list(StepSampler(10, rank=0, start_step=0, total_batch=4, world_size=1, seed=0, total_steps=6))
    assert single[:2] == r0[:2] and single[2:4] == r1[:2]  # same global batches whatever the world size


def test_total_batch_must_divide():
    assert common.per_rank_batch(8, 2) == 4
    with pytest.raises(ValueError, match="not divisible"):
        common.per_rank_batch(6, 4)


@pytest.mark.slow
def test_run_writes_config_log_done_and_resume_is_exact(video_list, tmp_path):
    full = run(smoke(), tmp_path / "full", list_file=str(video_list), render_size=64, progress=False)
    assert full["steps"] == full["total_steps"] == 6
    records = JsonlLog(tmp_path / "full" / "log.jsonl").read()
    assert [r["step"] for r in records] == list(range(1, 7))
    assert {"loss", "lr", "clips_per_s", "data_wait"} <= set(records[0]) and records[0]["lr"] == 0.0
    assert json.loads((tmp_path / "full" / "config.json").read_text())["PretrainConfig"]["batch_size"] == 4
    assert (tmp_path / "full" / "DONE").stat().st_mtime >= (tmp_path / "full" / "last.pth").stat().st_mtime
    # interrupted after 3 steps (checkpoints at 2 and 3), then the same call again
    part = tmp_path / "part"
    assert run(smoke(), part, list_file=str(video_list), render_size=64, progress=False, stop_after=3)["steps"] == 3
    assert not (part / "DONE").exists() and len(losses(part)) == 3
    with open(part / "log.jsonl", "a") as f:  # a record written after the last checkpoint, as after a crash
        f.write(json.dumps({"step": 4, "loss": -1.0}) + "\n")
    run(smoke(), part, list_file=str(video_list), render_size=64, progress=False)
    assert losses(part) == losses(tmp_path / "full")  # bit-identical loss curve
    assert (part / "DONE").exists()
    (part / "DONE").unlink()
    with pytest.raises(ValueError, match="different settings"):  # resuming with other settings is refused
        run(smoke(base_lr=1e-3), part, list_file=str(video_list), render_size=64, progress=False)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(video_list, tmp_path, monkeypatch):
    class NanAtThirdStep(objectives.VideoMAE):
        """VideoMAE whose third loss is NaN, registered in its place (objectives are a registry)."""
        calls = 0

        def loss(self, *args, **kwargs):
            NanAtThirdStep.calls += 1
            loss = super().loss(*args, **kwargs)
            return loss * float("nan") if NanAtThirdStep.calls == 3 else loss

    monkeypatch.setitem(objectives.OBJECTIVES, "videomae", NanAtThirdStep)
    with pytest.raises(common.NonFiniteLossError, match="step 3.*last good checkpoint"):
        run(smoke(), tmp_path / "nan", list_file=str(video_list), render_size=64, progress=False)
    ckpt = torch.load(tmp_path / "nan" / "last.pth", weights_only=True)
    assert ckpt["step"] == 2 and not (tmp_path / "nan" / "DONE").exists()


def _script(*args, env=None):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.slow
def test_cli_bad_arguments(tmp_path):
    out = _script(SCRIPT, "--profile", "smoke", "--dataset", "no_such_set", "--out", str(tmp_path / "a"))
    assert out.returncode != 0 and "error:" in out.stderr and "no_such_set" in out.stderr
    out = _script(SCRIPT, "--profile", "smoke", "--list", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "b"))
    assert out.returncode != 0 and "error:" in out.stderr and "missing.csv" in out.stderr
    assert _script(SCRIPT, "--profile", "smoke", "--out", str(tmp_path / "c")).returncode == 2  # no data source


@pytest.mark.slow
def test_torchrun_two_processes_gloo_matches_one_process(video_list, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["--profile", "smoke", "--list", str(video_list), "--epochs", "1", "--no-progress"]
    out = _script("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", SCRIPT, *args,
                  "--out", str(tmp_path / "ddp"), env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "ddp" / "DONE").read_text())["world_size"] == 2
    run(smoke(epochs=1), tmp_path / "one", list_file=str(video_list), render_size=64, progress=False)
    # 2 ranks x 2 clips with averaged gradients = 1 process x 4 clips (same global batches, same masks)
    np.testing.assert_allclose(losses(tmp_path / "ddp"), losses(tmp_path / "one"), rtol=1e-4)


def test_on_the_fly_synthetic_dataset_with_the_profile_render_config(tmp_path):
    """A registered synthetic name trains end to end, rendered with the RenderConfig it is given."""
    from synvid.config import RenderConfig
    render = RenderConfig(size=32, num_shapes=12, min_frames=20, max_frames=24, num_videos=8)   # 8 clips/epoch
    out = run(smoke(), tmp_path / "syn", dataset="moving_circles", render_size=32, progress=False,
              synthetic=dict(cfg=render))
    assert out["steps"] == 6 and math.isfinite(out["final_loss"])
    clips = build_dataset(smoke(), dataset="moving_circles", render_size=32, synthetic=dict(cfg=render)).clips
    assert all(clips[i].shape == (smoke().num_frames, 32, 32, 3) for i in range(2))
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*moving_circles"):
        run(smoke(), tmp_path / "bad", dataset="nope", progress=False)


@pytest.mark.parametrize("render_device", ["loader", "device"])
def test_the_mask_window_follows_the_models_patch(render_device):
    """A patch-8 model (the miniature's) gets an 8x8 token grid per tubelet at 64 px, from both data paths."""
    from synvid.config import RenderConfig
    cfg = smoke(model="pretrain_videomae_tiny_patch8_64", input_size=64, render_device=render_device)
    data = build_dataset(cfg, dataset="moving_circles", render_size=64,
                         synthetic=dict(cfg=RenderConfig(size=64, num_shapes=8, num_videos=4)))
    item = data.plans[(0, 0)] if render_device == "device" else data[(0, 0)]
    mask = item["mask"] if isinstance(item, dict) else item[1]
    assert mask.numel() == (cfg.num_frames // 2) * 8 * 8


def test_mixed_with_real_videos_table11(video_list, tmp_path):
    """--mix-fraction r: the last r of each epoch's indices are real clips (authors' AlignedDataset_video)."""
    from synvid.config import RenderConfig
    from synvid.data.pretrain_data import MixedClips
    from synvid.provenance import record_from_run
    render = dict(cfg=RenderConfig(size=32, num_shapes=12, min_frames=20, max_frames=24, num_videos=8))
    data = build_dataset(smoke(mix_fraction=0.25), dataset="moving_circles", render_size=32, synthetic=render,
                         mix_list=str(video_list)).clips
    assert isinstance(data, MixedClips) and len(data) == 8 and data.first_real == 6
    assert data[2].shape[1:] == (32, 32, 3) and data[7].shape[1:] == (48, 64, 3)     # synthetic | real (64x48)
    again = build_dataset(smoke(mix_fraction=0.25), dataset="moving_circles", render_size=32, synthetic=render,
                          mix_list=str(video_list)).clips
    assert torch.equal(data[7], again[7])                                     # the real clip is seeded
    with pytest.raises(ValueError, match="needs --mix-list"):
        build_dataset(smoke(mix_fraction=0.25), dataset="moving_circles", render_size=32, synthetic=render)
    with pytest.raises(ValueError, match="--mix-list"):
        build_dataset(smoke(mix_fraction=0.25, render_device="device"), dataset="moving_circles",
                      render_size=32, synthetic=render, mix_list=str(video_list))
    run(smoke(epochs=1, mix_fraction=0.25), tmp_path / "mix", dataset="moving_circles", render_size=32,
        synthetic=render, mix_list=str(video_list), progress=False, extra={"mix_name": "ucf101"})
    finetune = tmp_path / "ft"
    finetune.mkdir()
    (finetune / "config.json").write_text(json.dumps({"FinetuneConfig": {}, "dataset": "ucf101",
                                                      "init": str(tmp_path / "mix" / "last.pth")}))
    (finetune / "DONE").write_text(json.dumps({"top1": 90.0}))
    assert record_from_run(finetune)["pretrain_dataset"] == "moving_circles_ucf101_25pct"   # reported.csv key


def test_a_run_from_before_a_new_setting_resumes_when_it_is_at_its_default(video_list, tmp_path):
    """Config fields added later (e.g. render_device, mix_fraction) are read as their defaults in an old last.pth."""
    from synvid.checkpoint import load_checkpoint
    part = tmp_path / "part"
    run(smoke(), part, list_file=str(video_list), render_size=64, progress=False, stop_after=3)
    state = load_checkpoint(part / "last.pth")
    for key in ("render_device", "mix_fraction"):
        del state["config"]["PretrainConfig"][key]                  # what a run saved before them holds
    del state["config"]["mix_list"]
    torch.save(state, part / "last.pth")
    assert run(smoke(), part, list_file=str(video_list), render_size=64, progress=False)["steps"] == 6
    (part / "DONE").unlink()
    with pytest.raises(ValueError, match="mix_fraction"):
        run(smoke(mix_fraction=0.5), part, list_file=str(video_list), render_size=64, progress=False,
            mix_list=str(video_list))


@pytest.mark.slow
def test_a_stop_signal_saves_last_pth_and_the_rerun_resumes_exactly(video_list, tmp_path, monkeypatch):
    """SLURM's warning signal (run_all.sh --slurm): the step in progress ends, last.pth is saved at that step
    (smoke saves every 2 steps, the signal comes during step 3), the run exits with PREEMPTED_EXIT, and the same
    call again continues as if it had never stopped."""
    import signal
    from synvid.engine.pretrain import Trainer
    run(smoke(), tmp_path / "full", list_file=str(video_list), render_size=64, progress=False)
    real_step = Trainer.train_step

    def step_then_signal(self, batch, step):
        result = real_step(self, batch, step)
        if step == 2:
            os.kill(os.getpid(), signal.SIGUSR1)
        return result

    monkeypatch.setattr(Trainer, "train_step", step_then_signal)
    part = tmp_path / "part"
    with pytest.raises(common.Preempted) as stopped:
        run(smoke(), part, list_file=str(video_list), render_size=64, progress=False)
    assert stopped.value.code == common.PREEMPTED_EXIT == 75
    assert torch.load(part / "last.pth", weights_only=True)["step"] == 3 and not (part / "DONE").exists()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # the handler is the run's only
    monkeypatch.undo()
    run(smoke(), part, list_file=str(video_list), render_size=64, progress=False)
    assert losses(part) == losses(tmp_path / "full") and (part / "DONE").exists()


def _script_module(path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(Path(path).stem.replace("3_", "s3_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("profile", ["paper", "authors", "mini", "smoke"])
def test_equal_compute_across_the_progression(profile, tmp_path, monkeypatch):
    """Under every profile a fixed set has as many videos as an on-the-fly epoch has clips (one
    rule, RenderConfig.num_videos), so both get the same steps per epoch; Section 5 samples from as many."""
    from synvid import config
    from synvid.engine import pretrain as engine
    from synvid.render import writer
    from synvid.stats.sources import Source
    generate = _script_module(ROOT / "data_gen" / "3_1_generate.py")
    written = {}
    monkeypatch.setattr(writer, "materialise", lambda name, n, out, **kw: written.update(n=n) or {"files": {}})
    generate.main(generate.get_args_parser().parse_args(
        ["--profile", profile, "--dataset", "accelerating_transforming_textures", "--out", str(tmp_path / "d")]))
    pretrain = _script_module(SCRIPT)
    seen = {}
    monkeypatch.setattr(engine, "run", lambda cfg, out, **kw: seen.update(cfg=cfg, **kw) or {"steps": 0,
                                                                                              "total_steps": 1})
    pretrain.main(pretrain.get_args_parser().parse_args(
        ["--profile", profile, "--dataset", "moving_circles", "--out", str(tmp_path / "p")]))
    on_the_fly = build_dataset(seen["cfg"], dataset="moving_circles", render_size=seen["render_size"],
                               synthetic=seen["synthetic"])
    expected = config.resolve(config.RenderConfig, profile).num_videos
    assert written["n"] == len(on_the_fly) == expected                     # 2,000 each under mini, not 9,537
    assert Source("moving_circles", synthetic=seen["synthetic"]).num_videos == expected
    assert Source("accelerating_transforming_textures", synthetic=seen["synthetic"]).num_videos == expected
