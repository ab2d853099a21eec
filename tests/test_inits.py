"""synvid.inits: every `--init` the docs name resolves by one rule to its kind, weights, run, objective, step and
hash; fine-tuning and both probe modes run from each kind, UCF101-P and the tables record what they came from
(smoke settings: tiny ViT, 4 frames, 32 px, toy UCF101, CPU). The sources are made as users make them: real
pre-training runs of both objectives, an official VideoMAE file as VM `utils.save_model` writes it (`args` a
pickled argparse.Namespace), the official V-JEPA layout, and transformers `save_pretrained` folders."""
import argparse
import hashlib
import json
import shutil

import pytest
import torch

from synvid import inits, provenance, robustness
from synvid.checkpoint import export_vjepa, load_checkpoint
from synvid.config import (FinetuneConfig, LinprobeConfig, PretrainConfig, RenderConfig, RobustnessConfig,
                           VjepaConfig, resolve)
from synvid.data import toy
from synvid.engine import finetune, linprobe, pretrain
from synvid.errors import BadInput, CheckpointError, MissingInput
from synvid.models import build

PATCH = "patch_embed.proj.weight"   # the first encoder tensor: equal to the source's when the init was loaded


def _pretrain(out, objective: str):
    render = RenderConfig(size=32, num_shapes=12, min_frames=20, max_frames=24, num_videos=8)   # 2 steps
    pretrain.run(resolve(PretrainConfig, "smoke", epochs=1, warmup_epochs=0, objective=objective), out,
                 dataset="moving_circles", render_size=32, progress=False, synthetic=dict(cfg=render),
                 vjepa=resolve(VjepaConfig, "smoke"))
    return out


def _hf_config(transformers, **kw):
    """The smoke classifier (vit_tiny: depth 2, width 64, 2 heads; 4 frames of 32 px) in transformers' terms."""
    return transformers.VideoMAEConfig(image_size=32, num_frames=4, hidden_size=64, num_hidden_layers=2,
                                       num_attention_heads=2, intermediate_size=256, layer_norm_eps=1e-6,
                                       use_mean_pooling=True, **kw)


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    return toy.make_toy_ucf101(tmp_path_factory.mktemp("toy") / "toy_ucf101", num_classes=2, groups=3,
                               clips_per_group=2, frames=12)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """{name: (--init, the source's patch-embedding weight or None)} for every kind."""
    base = tmp_path_factory.mktemp("inits")
    mae, jepa = _pretrain(base / "pre_videomae", "videomae"), _pretrain(base / "pre_vjepa", "vjepa")
    mae_sd = load_checkpoint(mae / "last.pth")["model"]
    official = base / "official" / "checkpoint-0.pth"            # VM utils.save_model's dict
    official.parent.mkdir()
    torch.save({"model": mae_sd, "epoch": 0, "args": argparse.Namespace(model="pretrain_videomae_tiny_patch16_224",
                                                                         window_size=(2, 2, 2), lr=1.5e-4)}, official)
    torch.manual_seed(0)
    vjepa_model = build("pretrain_vjepa_tiny_patch16_224", num_frames=4, img_size=32, predictor_dim=16,
                        predictor_depth=1)
    official_vjepa = export_vjepa(vjepa_model, base / "official" / "jepa-latest.pth.tar", epoch=3)
    found = {"scratch": ("scratch", None), "run_dir": (mae, mae_sd["encoder." + PATCH]),
             "run_checkpoint": (jepa / "last.pth", load_checkpoint(jepa / "last.pth")["model"]["encoder." + PATCH]),
             "official": (official, mae_sd["encoder." + PATCH]),
             "official_vjepa": (official_vjepa, vjepa_model.encoder.patch_embed.proj.weight.detach().clone())}
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    classifier = transformers.VideoMAEForVideoClassification(_hf_config(transformers, num_labels=2))
    classifier.save_pretrained(base / "hf_classifier")
    encoder = transformers.VideoMAEModel(_hf_config(transformers))
    encoder.save_pretrained(base / "hf_encoder")
    torch.save(encoder.state_dict(), base / "encoder_weights.bin")    # HF names in a file named otherwise
    hf_patch = encoder.embeddings.patch_embeddings.projection.weight
    found.update(hf_folder=(base / "hf_classifier", classifier.videomae.embeddings.patch_embeddings.projection.weight),
                 hf_file=(base / "hf_encoder" / "model.safetensors", hf_patch),
                 hf_bin=(base / "encoder_weights.bin", hf_patch))
    return {k: (path, None if w is None else w.detach().clone()) for k, (path, w) in found.items()}


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_kind_resolves_to_its_kind_objective_step_and_hash(sources):
    mae, jepa = sources["run_dir"][0], sources["run_checkpoint"][0].parent
    assert inits.resolve("scratch") == inits.Init("scratch")
    for init, run in ((mae, mae), (mae / "last.pth", mae), (jepa, jepa), (jepa / "last.pth", jepa)):
        done, config = (json.loads((run / name).read_text()) for name in ("DONE", "config.json"))
        got = inits.resolve(init)
        assert (got.kind, got.run, got.weights, got.step, got.finished) == ("synvid", run, run / "last.pth", 2, True)
        assert got.hash == done["config_hash"] == config["config_hash"]
        assert got.objective == ("vjepa" if run == jepa else "videomae")    # a V-JEPA run directory is V-JEPA's
    for name, kind, objective, weights in (
            ("official", "official", "videomae", None), ("official_vjepa", "official", "vjepa", None),
            ("hf_folder", "hf", "videomae", "model.safetensors"), ("hf_file", "hf", "videomae", None),
            ("hf_bin", "hf", "videomae", None)):
        path = sources[name][0]
        got = inits.resolve(path)
        assert (got.kind, got.objective, got.run, got.step) == (kind, objective, None, None)
        assert got.weights == (path / weights if weights else path) and got.hash == _sha256(got.weights)


def test_a_synvid_checkpoint_outside_its_run_and_the_record(sources, tmp_path):
    moved = tmp_path / "elsewhere" / "pre.pth"
    moved.parent.mkdir()
    shutil.copy(sources["run_checkpoint"][0], moved)
    got = inits.resolve(moved)
    assert (got.kind, got.run, got.objective, got.step, got.hash) == ("synvid", None, "vjepa", 2, _sha256(moved))
    here = tmp_path / "runs" / "finetune"
    assert got.record(here) == {"kind": "synvid", "run": None, "checkpoint": "../../elsewhere/pre.pth",
                                "objective": "vjepa", "step": 2, "hash": _sha256(moved), "finished": None}
    assert inits.Init("scratch").record(here) == {"kind": "scratch", "run": None, "checkpoint": None,
                                                  "objective": None, "step": None, "hash": None, "finished": None}


def test_unfinished_missing_and_foreign_inits_are_refused_naming_them(sources, tmp_path):
    half = tmp_path / "half"
    shutil.copytree(sources["run_dir"][0], half)
    (half / "DONE").unlink()
    with pytest.raises(BadInput, match=f"{half} has no DONE.*--allow-unfinished"):
        inits.resolve(half / "last.pth")
    got = inits.resolve(half, allow_unfinished=True)                 # the step comes from last.pth itself
    config_hash = json.loads((half / "config.json").read_text())["config_hash"]
    assert (got.kind, got.step, got.finished, got.hash) == ("synvid", 2, False, config_hash)
    (half / "last.pth").unlink()
    with pytest.raises(MissingInput, match="holds no last.pth"):
        inits.resolve(half, allow_unfinished=True)
    pruned = inits.resolve(half, allow_unfinished=True, inspect=False)   # the tables: a kept run, pruned weights
    assert (pruned.kind, pruned.objective, pruned.step) == ("synvid", "videomae", None)
    with pytest.raises(MissingInput, match="--init not found"):
        inits.resolve(tmp_path / "nope.pth")
    (tmp_path / "plain").mkdir()
    with pytest.raises(BadInput, match="neither a synvid run directory.*nor a HuggingFace"):
        inits.resolve(tmp_path / "plain")
    (tmp_path / "plain" / "x.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="x.pth"):
        inits.resolve(tmp_path / "plain" / "x.pth")


def test_the_tables_take_the_objective_of_a_done_without_a_pretrain_config(tmp_path):
    """The upstream is a fine-tune of an official V-JEPA file (--pretrain-name k400): no PretrainConfig, its
    objective in DONE. The tables once took such an upstream for VideoMAE's."""
    up, down = tmp_path / "runs" / "finetune" / "official", tmp_path / "runs" / "finetune" / "a"
    for folder, config, done in ((up, {"FinetuneConfig": {}, "pretrain_dataset": "k400"}, {"objective": "vjepa"}),
                                 (down, {"FinetuneConfig": {"model": "vit_tiny_patch16_224"}, "dataset": "ucf101",
                                         "init": str(up / "last.pth"), "profile": "smoke"}, {"top1": 50.0})):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "DONE").write_text(json.dumps(done))
    rec = provenance.record_from_run(down)
    assert (rec["pretrain_dataset"], rec["objective"], rec["upstream"]) == ("k400", "vjepa", str(up))


def _finetune_cfg():
    return resolve(FinetuneConfig, "smoke", epochs=1, warmup_epochs=0, batch_size=4)


def _probe_cfg(cached: bool):
    return resolve(LinprobeConfig, "smoke", cache_features=cached), _finetune_cfg()


E2E = ["scratch", "run_dir", "run_checkpoint", "official", "official_vjepa", "hf_folder", "hf_file", "hf_bin"]
CACHED = ("scratch", "hf_bin")      # the cached probe keeps only the head in last.pth: the kinds without a check


@pytest.mark.parametrize("name", E2E)
def test_finetune_and_probe_from_each_kind(sources, toy_root, tmp_path, name):
    """Fine-tuning and the probe (finetune_aug; cached for two kinds) run to DONE from every kind (< 1 s each); DONE
    records the resolved upstream, config.json its objective, the tables file the result under its pre-training;
    the probe's frozen encoder is the source's (the weights were loaded, not a fresh model)."""
    init, patch = sources[name]
    source = inits.resolve(init)
    named = {} if source.run or name == "scratch" else {"pretrain_dataset": "k400"}   # --pretrain-name
    cached = name in CACHED
    ft = finetune.run(_finetune_cfg(), tmp_path / "ft", dataset="toy_ucf101", data_root=toy_root, init=str(init),
                      progress=False, extra=named)
    lp = linprobe.run(*_probe_cfg(cached), tmp_path / "lp", dataset="toy_ucf101", data_root=toy_root,
                      init=str(init), progress=False, extra=named)
    assert lp["probe_mode"] == ("cached" if cached else "finetune_aug") and "mode" not in lp
    key = {"scratch": "scratch"}.get(name, "moving_circles" if source.run else "k400")
    for run, done in ((tmp_path / "ft", ft), (tmp_path / "lp", lp)):
        assert done["upstream"] == source.record(run) and done["upstream"]["kind"] == source.kind
        assert json.loads((run / "config.json").read_text())["objective"] == source.objective
        rec = provenance.record_from_run(run)
        assert (rec["pretrain_dataset"], rec["objective"]) == (key, source.objective or "videomae")
        assert rec["probe_mode"] == (lp["probe_mode"] if run.name == "lp" else None)
    if patch is not None and not cached:
        assert torch.equal(load_checkpoint(tmp_path / "lp" / "last.pth")["model"][PATCH], patch)


@pytest.mark.slow
def test_ucf101p_records_the_finetuned_run_it_evaluates(sources, toy_root, tmp_path):
    """UCF101-P's --run resolves by the same rule; its DONE carries the fine-tune's record and objective."""
    ft_dir = tmp_path / "ft"
    finetune.run(_finetune_cfg(), ft_dir, dataset="toy_ucf101", data_root=toy_root,
                 init=str(sources["run_checkpoint"][0]), progress=False)
    rcfg = resolve(RobustnessConfig, "authors", severities=(1,), num_segments=2)
    robustness.run(rcfg, tmp_path / "p", run_dir=ft_dir, names=["gaussian_noise"], data_root=toy_root,
                   device="cpu", profile="smoke")
    done = json.loads((tmp_path / "p" / "DONE").read_text())
    assert done["upstream"] == inits.resolve(ft_dir).record(tmp_path / "p")
    assert (done["upstream"]["kind"], done["upstream"]["run"], done["objective"]) == ("synvid", "../ft", "vjepa")
    assert done["pretrain_dataset"] == "moving_circles"
    with pytest.raises(MissingInput, match="not in a fine-tuning run directory"):
        robustness.run(rcfg, tmp_path / "q", run_dir=sources["run_dir"][0], names=["gaussian_noise"],
                       data_root=toy_root, device="cpu")
