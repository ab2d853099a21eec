"""The `paper` profile is the paper's tables (Tables 5-8, Appendix 9.2); other profiles are overrides only."""
import argparse
import dataclasses
import json
import math
from pathlib import Path

import pytest

from synvid import config
from synvid.config import (PROBE_REPLACES, PROFILES, FinetuneConfig, LinprobeConfig, PretrainConfig, RenderConfig,
                           add_arguments, add_profile_argument, resolve, settings, to_dict)
from synvid.profiles import RECIPES

ROOT = Path(__file__).resolve().parents[1]

TABLE_5 = dict(mask_ratio=0.75, epochs=3200, base_lr=3e-4, weight_decay=0.05, beta1=0.9, beta2=0.95,
               batch_size=256, warmup_epochs=40)
TABLE_6 = dict(epochs=100, base_lr=1e-3, weight_decay=0.05, beta1=0.9, beta2=0.95, batch_size=256,
               warmup_epochs=5, flip=True, randaug_magnitude=9, randaug_std=0.5, label_smoothing=0.1, mixup=0.8,
               cutmix=1.0, drop_path=0.2, dropout=0.0, layer_decay=0.7, test_crops=3)
TABLE_7 = dict(epochs=100, optimizer="adamw", base_lr=1e-2, weight_decay=0.0)
TABLE_8 = dict(min_speed=1.2, max_speed=3.0, max_rotation_speed=math.pi / 100, max_scale_speed=0.005,
               max_shear_speed=0.005)


def _probe_trains_with(profile: str, dataset: str | None = None):
    """The settings a probe of `profile` on `dataset` trains with, and its own config (no flags)."""
    from synvid.engine.linprobe import finetune_settings
    probe = resolve(LinprobeConfig, profile, dataset)
    return finetune_settings(probe, resolve(FinetuneConfig, profile, dataset)), probe


@pytest.mark.parametrize("cls, table", [(PretrainConfig, TABLE_5), (FinetuneConfig, TABLE_6),
                                        (LinprobeConfig, TABLE_7), (RenderConfig, TABLE_8)])
def test_paper_defaults_are_the_tables(cls, table):
    paper = dataclasses.asdict(resolve(cls, "paper"))
    if cls is LinprobeConfig:   # Table 7 = what the probe trains with (its epochs are fine-tuning's, §4.3)
        paper = {**dataclasses.asdict(_probe_trains_with("paper")[0]), **paper}
    for name, value in table.items():
        assert paper[name] == value, f"{cls.__name__}.{name}"


def test_table8_acceleration_is_the_codes_parametrisation():
    # Table 8's (-0.06, 0.06) is the physical acceleration 2a of x = x0 + (v0 + a t) t (PROTOCOLS.md Q1).
    assert 2 * RenderConfig().max_accel == pytest.approx(0.06)


def test_appendix_9_2_video_settings():
    render = RenderConfig()
    assert (render.size, render.fps, render.min_frames, render.max_frames, render.num_videos) == (256, 25, 100, 200,
                                                                                                  9537)


def test_authors_profile_records_the_released_scripts():
    assert resolve(PretrainConfig, "authors").batch_size == 192
    finetune = resolve(FinetuneConfig, "authors")
    assert (finetune.beta2, finetune.dropout) == (0.999, 0.5)
    assert resolve(FinetuneConfig, "authors").base_lr == FinetuneConfig().base_lr  # unchanged values stay paper


def test_every_profile_resolves_every_config():
    """Every field of every config under every profile is the profile's value where it names one, else the paper
    default (a profile is overrides only; lists become the field's tuples)."""
    for profile, overrides in config.PROFILES.items():
        for cls in config.CONFIGS:
            resolved, given = resolve(cls, profile), overrides.get(cls.__name__, {})
            assert isinstance(resolved, cls)
            for field in dataclasses.fields(cls):
                expected = given.get(field.name, getattr(cls(), field.name))
                expected = tuple(expected) if isinstance(expected, list) else expected
                assert getattr(resolved, field.name) == expected, (profile, cls.__name__, field.name)
    assert resolve(PretrainConfig, "smoke").epochs != PretrainConfig().epochs     # the comparison can fail


def test_cli_flags_come_from_the_dataclass_and_override_the_profile(tmp_path):
    parser = argparse.ArgumentParser()
    add_profile_argument(parser)
    add_arguments(parser, PretrainConfig)
    args = parser.parse_args(["--profile", "smoke", "--mask-ratio", "0.9", "--bf16", "false"])
    cfg, overrides = settings(PretrainConfig, args.profile, flags=args)
    assert overrides == {"mask_ratio": 0.9, "bf16": False}
    assert cfg.mask_ratio == 0.9 and cfg.bf16 is False
    assert cfg.epochs == config.PROFILES["smoke"]["PretrainConfig"]["epochs"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(to_dict(cfg, command="test")))
    saved = json.loads(path.read_text())
    assert saved["PretrainConfig"]["mask_ratio"] == 0.9 and saved["command"] == "test"
    assert config.load_config(PretrainConfig, path) == cfg


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown profile"):
        resolve(PretrainConfig, "fast")
    with pytest.raises(ValueError, match="no setting"):
        resolve(PretrainConfig, "paper", mask_rate=0.5)
    parser = argparse.ArgumentParser()
    add_arguments(parser, PretrainConfig)
    with pytest.raises(SystemExit):
        parser.parse_args(["--epochs", "many"])


def test_dataset_recipes_per_profile():
    def changed(dataset, profile):
        own, recipe = resolve(FinetuneConfig, profile), resolve(FinetuneConfig, profile, dataset)
        return {k: v for k, v in dataclasses.asdict(recipe).items() if v != getattr(own, k)}
    assert changed("hmdb51", "paper") == {} and changed("hmdb51", "authors") == {"sampling_rate": 2}   # Q9
    assert changed("k400", "authors")["dropout"] == 0.0 and changed("k400", "paper")["epochs"] == 75  # Q15
    assert "epochs" not in changed("k400", "smoke") and changed("ucf101", "smoke") == {}   # smoke keeps its scale
    assert resolve(PretrainConfig, "paper", "k400") == PretrainConfig()        # a recipe names its config classes


def test_recipes_name_registered_datasets_and_known_settings(monkeypatch):
    from synvid.data.registry import DATASETS
    assert set(RECIPES) <= set(DATASETS)
    monkeypatch.setitem(RECIPES, "k400", {"every": {"FinetuneConfig": {"lr": 1.0}}})
    with pytest.raises(ValueError, match="FinetuneConfig.*lr"):
        config._check_profiles()
    monkeypatch.setitem(RECIPES, "k400", {"paper_only": {}})
    with pytest.raises(ValueError, match="unknown part 'paper_only'"):
        config._check_profiles()


def _finetune_flags(profile: str, dataset: str, *flags: str):
    """The fine-tuning script's (config, overrides) of a command line."""
    args = _script("finetune/4_1_finetune.py").get_args_parser().parse_args(
        ["--profile", profile, "--dataset", dataset, "--data-root", "x", "--init", "scratch", "--out", "y", *flags])
    return settings(FinetuneConfig, args.profile, dataset=args.dataset, flags=args)


def test_precedence_default_profile_recipe_flag():
    """Each layer overrides the one below it, and only where it names a setting: dropout under authors on K400 is
    0.0 (default) -> 0.5 (profile) -> 0.0 (recipe) -> the flag; epochs 100 -> (authors names none) -> 75 -> flag."""
    assert (FinetuneConfig().dropout, FinetuneConfig().epochs) == (0.0, 100)
    assert (resolve(FinetuneConfig, "authors").dropout, resolve(FinetuneConfig, "authors").epochs) == (0.5, 100)
    cfg, overrides = _finetune_flags("authors", "k400")
    assert (cfg.dropout, cfg.epochs, cfg.beta2, cfg.randaug_num_ops) == (0.0, 75, 0.999, 4) and overrides == {}
    cfg, overrides = _finetune_flags("authors", "k400", "--dropout", "0.3", "--epochs", "3")
    assert (cfg.dropout, cfg.epochs, cfg.base_lr) == (0.3, 3, 5e-4) and overrides == {"dropout": 0.3, "epochs": 3}
    # a flag equal to what profile and recipe give changes nothing, so it is no override
    assert _finetune_flags("authors", "k400", "--epochs", "75")[1] == {}
    # the authors part of a recipe applies on top of the authors profile only; the flag still wins
    assert _finetune_flags("paper", "hmdb51")[0].sampling_rate == 4
    assert _finetune_flags("authors", "hmdb51")[0].sampling_rate == 2
    assert _finetune_flags("authors", "hmdb51", "--sampling-rate", "4")[0].sampling_rate == 4


# Official VM K400 ViT-B fine-tuning (MCG-NJU/VideoMAE scripts/kinetics/
# videomae_vit_base_patch16_224_tubemasking_ratio_0.9_epoch_1600/finetune.sh, run_class_finetuning.py defaults):
# --lr 5e-4, --opt_betas 0.9 0.999, --min_lr 1e-6, --aa rand-m7-n4-mstd0.5-inc1, --layer_decay 0.75,
# --drop_path 0.1, --fc_drop_rate 0, --weight_decay 0.05, --warmup_epochs 5, --smoothing 0.1, --mixup 0.8,
# --cutmix 1.0, --reprob 0.25, --num_sample 2, --epochs 75, 6 x 64 GPUs = batch 384.
_VM_K400 = dict(base_lr=5e-4, min_lr=1e-6, beta1=0.9, beta2=0.999, randaug_magnitude=7, randaug_num_ops=4,
                randaug_std=0.5, layer_decay=0.75, drop_path=0.1, dropout=0.0, weight_decay=0.05, warmup_epochs=5,
                label_smoothing=0.1, mixup=0.8, cutmix=1.0, random_erase=0.25, repeated_aug=2)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_k400_finetune_is_the_official_recipe_under_every_profile(profile):
    import importlib.util
    spec = importlib.util.spec_from_file_location("finetune_script", ROOT / "finetune/4_1_finetune.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    args = script.get_args_parser().parse_args(["--profile", profile, "--dataset", "k400", "--data-root", "x",
                                                "--init", "scratch", "--out", "y"])
    cfg, _ = settings(FinetuneConfig, args.profile, dataset=args.dataset, flags=args)
    # the CPU profiles keep their own settings where the K400 recipe names none (smoke: warm-up and repeated
    # augmentation, schedule length and cost only; cpu: its augmentation stack too, docs/miniature.md)
    own = resolve(FinetuneConfig, profile)
    kept = {k: getattr(own, k) for k in _VM_K400 if k not in RECIPES["k400"]["every"]["FinetuneConfig"]} \
        if profile in ("smoke", "cpu") else {}
    if profile == "smoke":
        assert kept == {**{k: _VM_K400[k] for k in kept}, "warmup_epochs": 1, "repeated_aug": 1}
    assert {k: getattr(cfg, k) for k in _VM_K400} == {**_VM_K400, **kept}
    scale = (cfg.epochs, cfg.batch_size)
    assert scale == (75, 384) if profile in ("paper", "authors") else scale == (
        resolve(FinetuneConfig, profile).epochs, resolve(FinetuneConfig, profile).batch_size)


def test_pretraining_step_counts_in_the_readme():
    # Trainer: steps = epochs x (clips per epoch // total batch), clips per epoch = RenderConfig.num_videos
    readme = (ROOT / "README.md").read_text()
    for profile, per_epoch, steps in (("paper", 37, 118_400), ("authors", 49, 156_800), ("mini", 31, 6_200),
                                      ("smoke", 2, 4)):
        p, r = resolve(PretrainConfig, profile), resolve(RenderConfig, profile)
        assert r.num_videos // p.batch_size == per_epoch and p.epochs * per_epoch == steps
        assert f"{p.epochs:,} × {per_epoch} = " in readme or f"{p.epochs} × {per_epoch} = " in readme
        assert f"{steps:,}" in readme


def test_paper_probe_is_section_4_3():
    """§4.3: "the same hyper-parameters as used for fine-tuning, replacing only the base learning rate to 0.01, and do
    not use weight decay"; the probe runs the fine-tuning augmentations (no cached features) in every profile."""
    trains, probe = _probe_trains_with("paper")
    assert probe.cache_features is False and trains.base_lr == 1e-2 and trains.weight_decay == 0.0
    assert dataclasses.replace(trains, **{k: getattr(FinetuneConfig(), k) for k in PROBE_REPLACES}) == FinetuneConfig()
    # LinprobeConfig holds only what differs: the four settings it replaces, its optimiser and its mode
    assert PROBE_REPLACES == ("base_lr", "min_lr", "weight_decay", "layer_decay")
    assert {f.name for f in dataclasses.fields(LinprobeConfig)} == {*PROBE_REPLACES, "optimizer", "cache_features"}
    # the miniature (cpu) alone probes cached features: 36 augmented probes would not fit its hour
    assert [p for p in config.PROFILES if resolve(LinprobeConfig, p).cache_features] == ["cpu"]
    authors = _probe_trains_with("authors")[0]  # LP.sh through DeepSpeed: AdamW (0.9, 0.999) 0.1, fc_drop 0.5
    assert (authors.base_lr, authors.beta2, authors.dropout, authors.drop_path) == (0.1, 0.999, 0.5, 0.2)


def _probe_flags(profile: str, dataset: str, *flags: str):
    """The probe script's (its config, the fine-tuning settings it trains with, overrides) of a command line."""
    from synvid.engine.linprobe import finetune_settings
    script = _script("linprobe/4_3_linprobe.py")
    args = script.get_args_parser().parse_args(
        ["--profile", profile, "--dataset", dataset, "--data-root", "x", "--init", "scratch", "--out", "y", *flags])
    probe, tune, overrides = script.probe_settings(args)
    return probe, finetune_settings(probe, tune), overrides


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_k400_probe_runs_the_k400_finetuning_recipe(profile):
    """A K400 probe trains with K400's fine-tuning settings (recipe and, under paper/authors, its scale), except
    the four the probe replaces; the same holds for the authors' HMDB51 sampling rate."""
    _, trains, overrides = _probe_flags(profile, "k400")
    tune = _finetune_flags(profile, "k400")[0]
    probe = resolve(LinprobeConfig, profile)
    assert trains == dataclasses.replace(tune, **{k: getattr(probe, k) for k in PROBE_REPLACES}) and overrides == {}
    assert (trains.beta2, trains.drop_path, trains.randaug_num_ops, trains.layer_decay) == (0.999, 0.1, 4, 1.0)
    assert (trains.base_lr, trains.weight_decay, trains.min_lr) == (probe.base_lr, 0.0, 0.0)
    own = resolve(FinetuneConfig, profile)
    assert (trains.epochs, trains.batch_size) == ((75, 384) if profile in ("paper", "authors") else
                                                  (own.epochs, own.batch_size))
    assert _probe_flags(profile, "hmdb51")[1].sampling_rate == (2 if profile == "authors" else own.sampling_rate)


def test_probe_flags_over_the_recipe():
    """Fine-tuning flags reach the probe's training settings above the recipe; the probe's own flags replace its
    four settings; both are recorded as overrides (RESULT_FREE ones not)."""
    probe, trains, overrides = _probe_flags("paper", "k400", "--epochs", "3", "--drop-path", "0.0", "--base-lr",
                                            "0.5", "--cache-features", "true", "--seed", "1")
    assert (trains.epochs, trains.drop_path, trains.base_lr, trains.beta2, trains.seed) == (3, 0.0, 0.5, 0.999, 1)
    assert probe.cache_features is True
    assert overrides == {"epochs": 3, "drop_path": 0.0, "base_lr": 0.5, "cache_features": True}


def _script(path: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dataset", ["ucf101", "k400"])
def test_runs_record_only_the_command_lines_changes_as_overrides(dataset):
    # the dataset recipe and settings that change nothing measured (seed, workers) are the profile's run; a changed
    # hyper-parameter is recorded, so that the tables show the run apart
    assert _finetune_flags("paper", dataset, "--seed", "3", "--num-workers", "2")[1] == {}
    assert _finetune_flags("paper", dataset, "--base-lr", "0.5", "--epochs", "3")[1] == {"base_lr": 0.5, "epochs": 3}
    assert _probe_flags("paper", dataset, "--seed", "1")[2] == {}
    assert _probe_flags("paper", dataset, "--cache-features", "true")[2] == {"cache_features": True}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_script_defaults_come_from_the_dataclasses(profile):
    """4_2_eval_ucf101p's --num-segments and 5_5's model flags are config fields. Fig. 5 reads the
    profile's own pre-trained models (the classifier of its fine-tuning, its pre-training clip); UCF101-P is
    tested on UCF101's 5 clips (Table 6) under every profile."""
    from synvid.config import RobustnessConfig, StatsConfig
    from synvid.data.registry import DATASETS
    stats, pre = resolve(StatsConfig, profile), resolve(PretrainConfig, profile)
    assert stats.pca_model == resolve(FinetuneConfig, profile).model
    assert (stats.pca_num_frames, stats.pca_input_size) == (pre.num_frames, pre.input_size)
    assert resolve(RobustnessConfig, profile).num_segments == DATASETS["ucf101"].test_clips == 5
    fig5, ucf101p = _script("analysis/5_5_visualize_features.py"), _script("finetune/4_2_eval_ucf101p.py")
    args = fig5.get_args_parser().parse_args(["--profile", profile, "--out", "o", "--checkpoints", "c",
                                              "--data-root", "d", "--class-name", "k", "--pca-num-frames", "8"])
    assert settings(StatsConfig, profile, flags=args)[0] == dataclasses.replace(stats, pca_num_frames=8)
    for flags, segments in (([], 5), (["--num-segments", "2"], 2)):
        args = ucf101p.get_args_parser().parse_args(["--profile", profile, "--out", "o", *flags])
        assert settings(RobustnessConfig, profile, flags=args)[0].num_segments == segments


def test_figure5_paper_models_are_vit_b_on_16x224_clips():
    from synvid.config import StatsConfig
    assert (StatsConfig.pca_model, StatsConfig.pca_num_frames, StatsConfig.pca_input_size) == (
        "vit_base_patch16_224", 16, 224)
    smoke = resolve(StatsConfig, "smoke")     # what run_all.sh's smoke plan passed as flags before
    assert (smoke.pca_model, smoke.pca_num_frames, smoke.pca_input_size) == ("vit_tiny_patch16_224", 4, 32)
