"""Linear probing: the encoder stays frozen in both modes, the head is BN(affine=False) + Linear, the cached
probe follows the fine-tuning schedule (steps per epoch from the number of videos, label smoothing, exact
resume), results land in results.json (toy HMDB51-layout set, tiny ViT, CPU)."""
import json
import math

import numpy as np
import pytest
import torch

from synvid.checkpoint import load_checkpoint, save_checkpoint
from synvid.config import FinetuneConfig, LinprobeConfig, resolve
from synvid.data import toy
from synvid.engine import linprobe
from synvid.models import build


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("lp")
    root = toy.make_toy_hmdb51(base / "toy_hmdb51", num_classes=2, per_class=4, test_per_class=1,
                               unused_per_class=1, frames=12)  # 2 train videos per class
    ckpt = base / "pre.pth"
    torch.manual_seed(1)
    save_checkpoint(ckpt, model=build("pretrain_videomae_tiny_patch16_224", num_frames=4, img_size=32),
                    step=0, epoch=0, config={})
    return root, ckpt


def _probe(cached=False, base_lr=None, **tune) -> tuple[LinprobeConfig, FinetuneConfig]:
    """The smoke probe's own settings and the smoke fine-tuning settings (with `tune`) it runs over."""
    return (resolve(LinprobeConfig, "smoke", cache_features=cached, base_lr=base_lr),
            resolve(FinetuneConfig, "smoke", **tune))


def _encoder(sd):
    return {k: v for k, v in sd.items() if k.startswith(("patch_embed", "blocks", "pos_embed"))}


@pytest.mark.parametrize("cached", [True, False])
def test_probe_keeps_encoder_frozen(setup, tmp_path, cached):
    root, ckpt = setup
    cfg, tune = _probe(cached, epochs=2, batch_size=2, test_clips=2, drop_path=0.0 if cached else 0.2)
    res = linprobe.run(cfg, tune, tmp_path / "run", dataset="toy_hmdb51", data_root=root, init=str(ckpt),
                       progress=False)
    assert res["probe_mode"] == ("cached" if cached else "finetune_aug") and res["num_videos"] == 2
    assert json.loads((tmp_path / "run/DONE").read_text())["probe_mode"] == res["probe_mode"]
    assert res["steps_per_epoch"] == 4 // 2 and res["total_steps"] == 2 * 2  # 4 training videos, batch 2
    assert res["label_smoothing"] == 0.1
    assert json.loads((tmp_path / "run/results.json").read_text())["views"] == "2x3"
    pre = load_checkpoint(ckpt)["model"]
    model = linprobe.probe_model(linprobe.finetune_settings(cfg, tune), 2, str(ckpt), torch.device("cpu"))
    assert isinstance(model.head[0], torch.nn.BatchNorm1d) and not model.head[0].affine
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.1.weight", "head.1.bias"]
    loaded = _encoder(model.state_dict())
    assert loaded and all(k in pre or "encoder." + k in pre for k in loaded)     # every encoder key is loaded ...
    for k, v in loaded.items():                                                  # ... and equals the checkpoint's
        assert torch.equal(v, pre[k] if k in pre else pre["encoder." + k]), k
    after = load_checkpoint(tmp_path / "run/last.pth")["model"]
    if cached:  # features of 4 videos x (2 segments x 3 crops); last.pth holds the trained head only
        assert res["cached_videos"] == 4 and res["cached_views_per_video"] == 6
        assert not torch.equal(after["1.weight"], model.state_dict()["head.1.weight"])
    else:  # the trained run's last.pth: encoder identical to the pre-trained one
        assert all(torch.equal(v, after[k]) for k, v in _encoder(model.state_dict()).items())
        assert not torch.equal(after["head.1.weight"], model.state_dict()["head.1.weight"])


def _cfg(**kw) -> FinetuneConfig:
    base = dict(epochs=3, warmup_epochs=1, batch_size=4, base_lr=0.1, min_lr=0.0, weight_decay=0.0,
                beta2=0.999, dropout=0.0, label_smoothing=0.1, seed=3)
    return FinetuneConfig(**{**base, **kw})


def _head(dim=8, classes=3):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.BatchNorm1d(dim, affine=False, eps=1e-6), torch.nn.Linear(dim, classes))


def _cache(videos=10, views=15, dim=8, classes=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(videos, views, dim, generator=g), torch.arange(videos) % classes


def _train_cached(head, x, y, cfg, run_dir, config, *, stop_after=None):
    """The cached probe's loop on (x, y), resumed from run_dir/last.pth; stops at `stop_after` steps."""
    return linprobe.fit(linprobe.CachedHead(head, x, y, cfg, run_dir, config), stop_after)


def _log(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_cached_steps_per_epoch_come_from_videos_not_views(tmp_path):
    x, y = _cache(videos=10, views=15)
    res = _train_cached(_head(), x, y, _cfg(epochs=3, batch_size=4), tmp_path, {})
    assert res["steps_per_epoch"] == 10 // 4 and res["total_steps"] == 3 * 2 and res["steps"] == 6
    assert [r["step"] for r in _log(tmp_path)] == [1, 2, 3, 4, 5, 6]  # 2 per epoch, not 150 // 4 = 37
    with pytest.raises(ValueError, match="fewer than the total batch"):
        _train_cached(_head(), x, y, _cfg(batch_size=11), tmp_path / "b", {})


def test_cached_batch_draws_each_video_once_per_epoch_and_one_view_each():
    x, _ = _cache(videos=10, views=15)
    order = np.random.default_rng([3, 0]).permutation(10)
    seen = []
    for step in range(2):
        feats, videos = linprobe.cached_batch(x, order, 4, seed=3, epoch=0, step=step)
        views = [int((x[v] == f).all(-1).nonzero()) for v, f in zip(videos.tolist(), feats)]
        assert feats.shape == (4, 8) and all(0 <= v < 15 for v in views)
        again, _ = linprobe.cached_batch(x, order, 4, seed=3, epoch=0, step=step)
        assert torch.equal(feats, again)  # seeded by (seed, epoch, step)
        seen += videos.tolist()
    assert len(set(seen)) == 8  # no repeats inside an epoch; the tail (2 videos) is dropped
    other, _ = linprobe.cached_batch(x, order, 4, seed=3, epoch=1, step=0)
    assert not torch.equal(other, linprobe.cached_batch(x, order, 4, seed=3, epoch=0, step=0)[0])


def test_probe_loss_uses_label_smoothing():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # softmax = (0.25, 0.75)
    expected = -(0.95 * math.log(0.25) + 0.05 * math.log(0.75))  # targets (1 - 0.1 + 0.05, 0.05)
    assert linprobe.probe_loss(logits, torch.tensor([0]), 0.1).item() == pytest.approx(expected, rel=1e-6)
    assert linprobe.probe_loss(logits, torch.tensor([0]), 0.0).item() == pytest.approx(-math.log(0.25), rel=1e-6)


def test_cached_training_loss_is_label_smoothed(tmp_path):
    """lr 0 and a head that outputs fixed logits: the logged loss is the smoothed cross-entropy."""
    x, _ = _cache(videos=8, views=2, dim=8, classes=2)
    head = _head(dim=8, classes=2)
    with torch.no_grad():
        head[1].weight.zero_()
        head[1].bias.copy_(torch.tensor([0.0, math.log(3.0)]))
    _train_cached(head, x, torch.zeros(8, dtype=torch.long), _cfg(base_lr=0.0, epochs=1), tmp_path, {})
    expected = -(0.95 * math.log(0.25) + 0.05 * math.log(0.75))
    assert _log(tmp_path)[0]["loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_cached_training_resumes_exactly_at_any_step(tmp_path, dropout):
    """Stopped at steps 1 (mid-epoch), 2 and 5 and rerun: the same per-step losses and final head."""
    x, y = _cache()
    cfg = _cfg(dropout=dropout)
    straight = _head()
    _train_cached(straight, x, y, cfg, tmp_path / "a", {})
    for stop in (1, 2, 5, None):
        resumed = _head()  # a fresh process: a new head, state from last.pth
        res = _train_cached(resumed, x, y, cfg, tmp_path / "b", {}, stop_after=stop)
    assert res["steps"] == res["total_steps"] == 6
    for k, v in straight.state_dict().items():  # weights and BN running statistics
        assert torch.equal(v, resumed.state_dict()[k]), k
    assert [r["step"] for r in _log(tmp_path / "b")] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in _log(tmp_path / "b")] == [r["loss"] for r in _log(tmp_path / "a")]


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.slow
def test_interrupted_probe_gives_the_uninterrupted_losses(setup, tmp_path, cached):
    """Both probe modes end to end: --stop-after at 1 and 3 of 6 steps, then a rerun = one uninterrupted run."""
    root, ckpt = setup
    cfg, tune = _probe(cached, epochs=3, batch_size=2, test_clips=2)
    kw = dict(dataset="toy_hmdb51", data_root=root, init=str(ckpt), progress=False)
    linprobe.run(cfg, tune, tmp_path / "a", **kw)
    for stop in (1, 3):
        part = linprobe.run(cfg, tune, tmp_path / "b", stop_after=stop, **kw)
        assert part["steps"] == stop and not (tmp_path / "b/DONE").exists()
    linprobe.run(cfg, tune, tmp_path / "b", **kw)
    straight, resumed = _log(tmp_path / "a"), _log(tmp_path / "b")
    assert len(straight) == 6 and [r["loss"] for r in resumed] == [r["loss"] for r in straight]


def test_probe_of_a_random_encoder(separable_toy, tmp_path):
    """--init scratch: Table 1's "Random initialization" probe; a frozen random encoder, only the head trains. On 4
    classes of flat grey videos the trained head is right on every test video; an untrained one (lr 0) is not (chance
    is 25%: the 100% is learnt)."""
    kw = dict(dataset="toy_hmdb51", data_root=separable_toy, init="scratch", progress=False)
    top1 = {}
    for base_lr in (1.0, 0.0):
        cfg, tune = _probe(cached=True, base_lr=base_lr, epochs=3, batch_size=2, test_clips=2)
        res = linprobe.run(cfg, tune, tmp_path / f"lr{base_lr}", **kw)
        assert (res["num_videos"], res["steps"]) == (8, 18)
        top1[base_lr] = res["top1"]
    assert top1[1.0] == 100.0 and top1[0.0] <= 50.0
    assert json.loads((tmp_path / "lr1.0/DONE").read_text())["top1"] == 100.0
    assert json.loads((tmp_path / "lr1.0/config.json").read_text())["init"] == "scratch"
    model = linprobe.probe_model(linprobe.finetune_settings(cfg, tune), 2, "scratch", torch.device("cpu"))
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.1.weight", "head.1.bias"]


def test_stale_feature_cache_is_refused(setup, tmp_path):
    root, ckpt = setup
    cfg, tune = _probe()
    torch.save({"x": torch.zeros(1, 1, 1), "y": torch.zeros(1), "settings": "{}"}, tmp_path / "features.pt")
    fcfg = linprobe.finetune_settings(cfg, tune)
    with pytest.raises(ValueError, match="other settings"):
        linprobe.cached_features(None, fcfg, [], segments=2, cache=tmp_path / "features.pt",
                                 settings=linprobe.feature_settings(fcfg, 2, {}), device=None, failures=None)


def test_probes_of_one_encoder_share_a_feature_cache(setup, tmp_path, monkeypatch):
    """--feature-cache: the first seed extracts, the next reads the same file and gets what its own extraction would
    give; a scratch encoder (drawn from the seed) gets a file of its own; the file keeps the unreadable names."""
    root, ckpt = setup
    kw = dict(dataset="toy_hmdb51", data_root=root, progress=False)
    shared = tmp_path / "features"

    def probe(name, seed, init=str(ckpt), cache=shared):
        cfg, tune = _probe(cached=True, epochs=2, batch_size=2, test_clips=2, seed=seed)
        return linprobe.run(cfg, tune, tmp_path / name, init=init, feature_cache=cache, **kw)

    own = probe("own1", 1, cache=None)
    first = probe("seed0", 0)
    (file,) = shared.glob("features_*.pt")
    assert first["feature_cache"] == str(file) and "feature_cache" not in own
    assert not (tmp_path / "seed0/features.pt").exists()
    extract = linprobe.extract_features
    monkeypatch.setattr(linprobe, "extract_features", lambda *a, **k: pytest.fail("extracted again"))
    second = probe("seed1", 1)
    assert second["feature_cache"] == str(file)
    assert (second["top1"], second["videos"]) == (own["top1"], own["videos"])   # as if it had extracted itself
    monkeypatch.setattr(linprobe, "extract_features", extract)
    probe("scratch0", 0, init="scratch")
    probe("scratch1", 1, init="scratch")
    assert len(list(shared.glob("features_*.pt"))) == 3
    saved = torch.load(file, weights_only=True)
    torch.save({**saved, "skipped": ["gone.avi"]}, file)
    assert probe("seed2", 2)["train_skipped_names"] == ["gone.avi"]


def test_cached_run_resumes_and_refuses_other_settings(setup, tmp_path):
    root, ckpt = setup
    cfg, tune = _probe(epochs=2, batch_size=2, test_clips=2)
    kw = dict(dataset="toy_hmdb51", data_root=root, init=str(ckpt), progress=False)
    first = linprobe.run(cfg, tune, tmp_path / "run", **kw)
    (tmp_path / "run/DONE").unlink()  # e.g. killed during the test: the rerun resumes from last.pth + features.pt
    again = linprobe.run(cfg, tune, tmp_path / "run", **kw)
    assert again["videos"] == first["videos"] and again["steps"] == first["total_steps"]
    (tmp_path / "run/DONE").unlink()
    with pytest.raises(ValueError, match="different settings"):
        linprobe.run(*_probe(base_lr=0.5, epochs=2, batch_size=2, test_clips=2), tmp_path / "run", **kw)


@pytest.mark.slow
def test_cli_records_an_official_checkpoints_name(setup, tmp_path):
    """linprobe/4_3_linprobe.py end to end; --pretrain-name is what the tables file the result under."""
    import subprocess
    import sys
    from pathlib import Path

    from synvid.provenance import record_from_run
    root, ckpt = setup
    script = Path(__file__).resolve().parents[1] / "linprobe" / "4_3_linprobe.py"
    out = subprocess.run([sys.executable, str(script), "--profile", "smoke", "--dataset", "toy_hmdb51",
                          "--data-root", str(root), "--init", str(ckpt), "--pretrain-name", "ucf101",
                          "--out", str(tmp_path / "lp"), "--no-progress", "--epochs", "1", "--batch-size", "2"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    record = record_from_run(tmp_path / "lp")
    assert (record["task"], record["pretrain_dataset"], record["profile"]) == ("linprobe", "ucf101", "smoke")


def test_cached_training_stops_on_a_signal_at_the_step_and_resumes_exactly(tmp_path, monkeypatch):
    import os
    import signal
    from synvid.engine import common
    x, y = _cache()
    straight = _head()
    _train_cached(straight, x, y, _cfg(), tmp_path / "a", {})
    real_loss = linprobe.probe_loss
    monkeypatch.setattr(linprobe, "probe_loss", lambda *a: (os.kill(os.getpid(), signal.SIGUSR1), real_loss(*a))[1])
    with pytest.raises(common.Preempted):
        _train_cached(_head(), x, y, _cfg(), tmp_path / "b", {})
    assert [r["step"] for r in _log(tmp_path / "b")] == [1]   # stopped after the step in progress, saved
    assert load_checkpoint(tmp_path / "b" / "last.pth")["step"] == 1
    monkeypatch.undo()
    resumed = _head()
    _train_cached(resumed, x, y, _cfg(), tmp_path / "b", {})
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in straight.state_dict().items())
