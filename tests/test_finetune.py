"""Fine-tuning end to end on the toy UCF101-layout set, mixup/cutmix targets, layer-decay groups and the
unreadable-video policy (tiny ViT, 4 frames, 32 px, CPU)."""
import dataclasses
import json

import pytest
import torch

from synvid.config import FinetuneConfig, resolve
from synvid.data import registry, toy
from synvid.engine import finetune as ft
from synvid.data import video_dataset
from synvid.data.video_dataset import Failed, TrainClips, check_cache_size
from synvid.engine.clip_training import AugmentedClipTraining
from synvid.engine.downstream import build_classifier
from synvid.engine.losses import build_mixing, flatten_repeats
from synvid.engine.evaluate import evaluate
from synvid.engine.evaluate import test_dataset as views_of
from synvid.errors import BadInput, VideoReadError
from synvid.video_io import video_info


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    return toy.make_toy_ucf101(tmp_path_factory.mktemp("toy") / "toy_ucf101", num_classes=2, groups=3,
                               clips_per_group=2, frames=12)


def _cfg(**kw):
    return resolve(FinetuneConfig, "smoke", **{"epochs": 1, "warmup_epochs": 0, "batch_size": 4, **kw})


def test_toy_layout_is_ucf101(toy_root):
    assert (toy_root / "UCF-101/MoveLeft/v_MoveLeft_g01_c01.avi").is_file()
    assert (toy_root / "ucfTrainTestlist/testlist01.txt").read_bytes().endswith(b"\r\n")
    assert (toy_root / "ucfTrainTestlist/trainlist01.txt").read_text().split("\n")[0].endswith(" 1")
    items, classes = registry.load("toy_ucf101", toy_root, "train")
    assert classes == ["MoveLeft", "MoveRight"] and len(items) == 8


def test_finetune_end_to_end_and_resume(toy_root, tmp_path):
    out = tmp_path / "run"
    partial = ft.run(_cfg(epochs=2), out, dataset="toy_ucf101", data_root=toy_root, stop_after=2, progress=False)
    assert partial["steps"] == 2 and not (out / "DONE").exists() and (out / "last.pth").exists()
    res = ft.run(_cfg(epochs=2), out, dataset="toy_ucf101", data_root=toy_root, progress=False)
    assert res["steps"] == res["total_steps"] == 4
    saved = json.loads((out / "results.json").read_text())
    assert saved["num_videos"] == 4 and len(saved["videos"][0]["scores"]) == 2 and saved["views"] == "2x3"
    assert abs(sum(saved["videos"][0]["scores"]) - 1) < 1e-4
    right = [max(range(2), key=v["scores"].__getitem__) == v["label"] for v in saved["videos"]]
    assert saved["top1"] == res["top1"] == 100.0 * sum(right) / 4                  # top-1 of the saved scores
    assert sorted(v["label"] for v in saved["videos"]) == [0, 0, 1, 1]              # the test split's classes
    assert (out / "DONE").exists()
    with pytest.raises(ValueError, match="different settings"):
        (out / "DONE").unlink()
        ft.run(_cfg(epochs=3), out, dataset="toy_ucf101", data_root=toy_root, progress=False)


def test_finetuning_learns_a_separable_set(separable_toy, tmp_path):
    """4 classes of flat grey videos (augmentations off, so the classes stay apart): fine-tuning from scratch gets
    every test video right; at lr 0 it does not (chance is 25%: the 100% is learnt)."""
    kw = dict(dataset="toy_hmdb51", data_root=separable_toy, progress=False)
    plain = dict(batch_size=2, mixup=0.0, cutmix=0.0, random_erase=0.0, randaug_num_ops=0, drop_path=0.0)
    trained = ft.run(_cfg(epochs=12, warmup_epochs=1, base_lr=2.0, **plain), tmp_path / "a", **kw)
    assert (trained["num_videos"], trained["steps"], trained["top1"]) == (8, 72, 100.0)
    untrained = ft.run(_cfg(base_lr=0.0, **plain), tmp_path / "b", **kw)
    assert untrained["top1"] <= 50.0


def test_mixup_cutmix_soft_targets():
    mix = build_mixing(_cfg(mixup=0.8, cutmix=1.0, label_smoothing=0.1), num_classes=5)
    videos, targets = mix(torch.randn(4, 3, 2, 8, 8), torch.tensor([0, 1, 2, 3]))
    assert videos.shape == (4, 3, 2, 8, 8) and targets.shape == (4, 5)
    assert torch.allclose(targets.sum(1), torch.ones(4)) and targets.min() >= 0.1 / 5 - 1e-6
    plain = build_mixing(_cfg(mixup=0.0, cutmix=0.0, label_smoothing=0.1), num_classes=5)
    _, t = plain(torch.zeros(2, 3, 2, 8, 8), torch.tensor([1, 4]))
    assert torch.allclose(t[0], torch.tensor([0.02, 0.92, 0.02, 0.02, 0.02]))


def test_repeated_views_are_never_mixed_with_each_other():
    """Repeated augmentation (R = 2): MixUp/CutMix pair sample i with i - 1, never two views of one video."""
    clips = torch.arange(4)[:, None, None].expand(4, 2, 1).float() * 10 + torch.arange(2)[None, :, None]
    videos, labels = flatten_repeats(clips, torch.tensor([5, 6, 7, 8]))
    assert videos[:, 0].tolist() == [0, 10, 20, 30, 1, 11, 21, 31] and labels.tolist() == [5, 6, 7, 8] * 2
    partner = videos[:, 0].roll(1, 0)                       # torchvision v2 MixUp / CutMix partner
    assert not torch.any((partner // 10) == (videos[:, 0] // 10))


def test_layer_decay_groups_vit_base():
    from synvid.models import build
    from synvid.optim import param_groups
    model = build("vit_base_patch16_224", num_classes=3, num_frames=2, img_size=32)
    groups = param_groups(model, 0.05, 0.7)
    scales = {g["layer_id"]: g["lr_scale"] for g in groups}
    assert len(scales) == 14 and scales[13] == 1.0
    assert abs(scales[0] - 0.7 ** 13) < 1e-12 and abs(scales[12] - 0.7) < 1e-12


def _corrupt_one(root):
    bad = root / "UCF-101/MoveRight/v_MoveRight_g02_c01.avi"
    good = bad.read_bytes()
    bad.write_bytes(b"not a video")
    return bad, good


def test_unreadable_video_skip_and_strict(toy_root, capsys):
    bad, good = _corrupt_one(toy_root)
    try:
        items, _ = registry.load("toy_ucf101", toy_root, "train")
        cfg = _cfg()
        model = build_classifier(cfg, 2, "scratch", torch.device("cpu"))
        with pytest.raises(VideoReadError, match="v_MoveRight_g02_c01.*--allow-missing"):   # strict by default
            evaluate(model, views_of(items, cfg, num_segments=2))
        test = views_of(items, dataclasses.replace(cfg, allow_missing=True), num_segments=2)
        res = evaluate(model, test, batch_size=3)
        assert res["skipped_videos"] == 1 and res["skipped_names"] == [str(bad)] and res["num_videos"] == 7
        assert (res["test_listed"], res["test_evaluated"], res["test_missing"]) == (8, 7, [bad.name])
        assert str(bad) in capsys.readouterr().out
        data = TrainClips(items, cfg)
        index = [p for p, _ in items].index(str(bad))
        assert isinstance(data[index], Failed) and data[index].path == str(bad)
        with pytest.raises(VideoReadError):
            TrainClips(items, cfg, strict=True)[index]
    finally:
        bad.write_bytes(good)


def test_missing_video_fails_before_training(toy_root, tmp_path):
    video = toy_root / "UCF-101/MoveLeft/v_MoveLeft_g03_c02.avi"
    saved = video.read_bytes()
    video.unlink()
    try:
        with pytest.raises(FileNotFoundError, match="v_MoveLeft_g03_c02"):
            ft.run(_cfg(), tmp_path / "r", dataset="toy_ucf101", data_root=toy_root, progress=False)
        assert not (tmp_path / "r" / "config.json").exists()
    finally:
        video.write_bytes(saved)


@pytest.mark.slow
def test_sigterm_saves_last_pth_and_the_rerun_resumes_exactly(toy_root, tmp_path, monkeypatch):
    """SIGTERM (a time limit, or run_all.sh --slurm forwarding its warning signal) stops fine-tuning at the step
    boundary with last.pth saved (smoke saves every 4 steps; the signal comes during step 1)."""
    import os
    import signal
    from synvid.engine import common
    cfg = _cfg(epochs=2)
    ft.run(cfg, tmp_path / "full", dataset="toy_ucf101", data_root=toy_root, stop_after=3, progress=False)
    real_loss = AugmentedClipTraining.loss
    monkeypatch.setattr(AugmentedClipTraining, "loss", lambda self, step, **batch: (
        step == 0 and os.kill(os.getpid(), signal.SIGTERM), real_loss(self, step=step, **batch))[1])
    with pytest.raises(common.Preempted):
        ft.run(cfg, tmp_path / "part", dataset="toy_ucf101", data_root=toy_root, progress=False)
    assert torch.load(tmp_path / "part" / "last.pth", weights_only=True)["step"] == 1
    monkeypatch.undo()
    ft.run(cfg, tmp_path / "part", dataset="toy_ucf101", data_root=toy_root, stop_after=3, progress=False)
    full = torch.load(tmp_path / "full" / "last.pth", weights_only=True)["model"]
    part = torch.load(tmp_path / "part" / "last.pth", weights_only=True)["model"]
    assert all(torch.equal(v, part[k]) for k, v in full.items())


def _losses(run_dir):
    return [json.loads(line)["loss"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_interrupted_finetune_gives_the_uninterrupted_losses(toy_root, tmp_path):
    """--stop-after at steps 1, 3 and 4 of 6 (mid-epoch and at epoch ends), rerun each time: every per-step loss
    equals the uninterrupted run's (augmentations, MixUp/CutMix, dropout and drop path are keyed)."""
    cfg = _cfg(epochs=3, warmup_epochs=1)
    kw = dict(dataset="toy_ucf101", data_root=toy_root, progress=False)
    ft.run(cfg, tmp_path / "a", stop_after=6, **kw)
    for stop in (1, 3, 4, 6):
        ft.run(cfg, tmp_path / "b", stop_after=stop, **kw)
    straight = _losses(tmp_path / "a")
    assert len(straight) == 6 and _losses(tmp_path / "b") == straight


RANK_DRAWS = r"""
import json, sys, torch
from synvid import dist
from synvid.config import FinetuneConfig, resolve
from synvid.data.sampling import EpochSampler
from synvid.engine import common
from synvid.engine.downstream import build_classifier
from synvid.engine.losses import build_mixing


def draws():
    cfg = resolve(FinetuneConfig, "smoke", drop_path=0.5, dropout=0.5)
    model = build_classifier(cfg, 3, "scratch", torch.device("cpu")).train()
    common.seed_rank(cfg.seed)
    after_seed = torch.rand(2).tolist()
    common.seed_step(cfg.seed, 7)
    videos = torch.linspace(-1, 1, 2 * 3 * 4 * 32 * 32).view(2, 3, 4, 32, 32)
    mixed, targets = build_mixing(cfg, 3)(videos, torch.tensor([0, 1]))
    return dict(after_seed=after_seed, mixed=mixed.sum().item(), targets=targets.tolist(),
                logits=model(videos).tolist(), indices=list(EpochSampler(8, 4, seed=cfg.seed, epoch=0)))


if __name__ == "__main__":
    dist.init_distributed()
    parts = dist.all_gather_objects(draws())
    if dist.is_main():
        json.dump(parts, open(sys.argv[1], "w"))
    dist.cleanup()
"""


@pytest.mark.slow
def test_ranks_draw_different_augmentations(tmp_path):
    """2 processes (gloo): each rank seeds seed + rank after building the same model and draws its own MixUp/CutMix,
    dropout and drop path per step and its own videos (so its own augmentations); rank 0 of 2 draws what a single
    process draws, since the keys are (seed, step, rank) and (seed, epoch, video)."""
    import os
    import runpy
    import subprocess
    import sys
    from pathlib import Path
    script = tmp_path / "draws.py"
    script.write_text(RANK_DRAWS)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script), str(tmp_path / "two.json")], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    r0, r1 = json.loads((tmp_path / "two.json").read_text())
    single = runpy.run_path(str(script), run_name="draws")["draws"]()  # this process: world size 1
    for key in ("after_seed", "mixed", "targets", "logits"):
        assert r0[key] != r1[key], key
        assert r0[key] == single[key], key
    assert not set(r0["indices"]) & set(r1["indices"])
    assert sorted(r0["indices"] + r1["indices"]) == sorted(single["indices"])


def test_cached_decoding_gives_the_same_clips(toy_root):
    items, _ = registry.load("toy_ucf101", toy_root, "train")
    cfg = _cfg()     # smoke: RandAugment, flip, erasing and 2 repeats on, so every draw is compared
    plain, cached = TrainClips(items, cfg, seed=3), TrainClips(items, cfg, seed=3, cache_decoded=True)
    cached.fill_cache()
    assert sorted(cached.cache) == list(range(len(items)))
    assert cached.cache[0].dtype == torch.uint8 and len(cached.cache[0]) == 12
    for epoch in (0, 1):
        plain.set_epoch(epoch), cached.set_epoch(epoch)
        for index in range(len(items)):
            (a, label_a), (b, label_b) = plain[index], cached[index]
            assert torch.equal(a, b) and label_a == label_b
    assert not torch.equal(plain[0][0], TrainClips(items, cfg, seed=4)[0][0])   # the comparison can fail


def test_cached_decoding_never_caches_an_unreadable_video(toy_root):
    bad, good = _corrupt_one(toy_root)
    try:
        items, _ = registry.load("toy_ucf101", toy_root, "train")
        index = [p for p, _ in items].index(str(bad))
        data = TrainClips(items, _cfg(), cache_decoded=True)
        data.fill_cache()
        assert index not in data.cache and len(data.cache) == len(items) - 1
        assert isinstance(data[index], Failed) and data[index].path == str(bad) and index not in data.cache
        with pytest.raises(VideoReadError):
            TrainClips(items, _cfg(), strict=True, cache_decoded=True)[index]
    finally:
        bad.write_bytes(good)


def test_cached_decoding_refuses_a_large_set_before_training(toy_root, tmp_path, monkeypatch):
    items, _ = registry.load("toy_ucf101", toy_root, "train")
    info = video_info(items[0][0])
    assert check_cache_size(items) == len(items) * info["num_frames"] * info["height"] * info["width"] * 3
    monkeypatch.setattr(video_dataset, "CACHE_LIMIT_BYTES", 1000)
    with pytest.raises(BadInput, match="cache_decoded: 8 videos of 12 frames.*over the"):
        ft.run(_cfg(cache_decoded=True), tmp_path / "r", dataset="toy_ucf101", data_root=toy_root, progress=False)
    assert not (tmp_path / "r" / "last.pth").exists()
    TrainClips(items, _cfg())       # off: no estimate, no refusal
