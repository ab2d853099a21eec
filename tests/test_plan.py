"""The run plan (synvid.plan) and run_all.sh's command line (synvid.run_all), in process: the plan walks the
registry (sets, fixed lists, texture banks, ImageNet, Table 11 mixes), keys runs as the tables read them, and the
command line refuses bad flags and missing inputs."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

from synvid import plan as P
from synvid import progression, provenance, run_all
from synvid.config import FinetuneConfig, PretrainConfig, TextureConfig, resolve

ROOT = Path(__file__).resolve().parents[1]


def _plan(profile="paper", **kw) -> P.Plan:
    return P.Plan(P.Settings(profile, **kw))


def _value(command: str, flag: str) -> str:
    return P.option(command, flag)


def _set_of(command: str) -> str:
    """The synthetic set a generate / pre-train command reads (by name or by its materialised list)."""
    return _value(command, "--dataset") or Path(_value(command, "--list")).parent.name


def test_paper_ablations_pretrain_every_registered_set_fixed_ones_from_their_lists():
    plan = _plan(ablations=True)
    pretrain = [c for c in plan.commands("pretrain") if "--mix-fraction" not in c]
    assert [_set_of(c) for c in pretrain] == [*progression.NAMES, *plan.ablation_sets]
    assert set(plan.ablation_sets) == set(progression.ABLATIONS)
    for command in pretrain:
        name = _set_of(command)
        assert ("--list" in command) == progression.spec(name).fixed, command
        assert _value(command, "--out") == f"runs/paper/pretrain/{name}"
    generated = [_set_of(c) for c in plan.commands("data") if "3_1_generate.py" in c]
    assert generated == [n for n, spec in progression.DATASETS.items() if spec.fixed]
    assert _plan().ablation_sets == () and _plan("smoke", ablations=True).ablation_sets == ()


@pytest.mark.parametrize("profile", ["paper", "mini", "smoke"])
def test_texture_banks_follow_the_registry_texture_field(profile):
    """A set reads the bank of its texture kind (a mix: its generated half's), never one for a latent walk (the
    renderer refuses it), and each bank it reads is written first with the profile's pool size (the size the
    renderer checks a bank against)."""
    data = _plan(profile, ablations=True).commands("data")
    banks = {_value(c, "--source"): c for c in data if "3_1_texture_banks.py" in c}
    pool = str(resolve(TextureConfig, profile).pool_size)
    assert banks and all(_value(c, "--num") == pool for c in banks.values())
    read = set()
    for command in (c for c in data if "3_1_generate.py" in c):
        spec = progression.spec(_set_of(command))
        kind = spec.mix_with if spec.texture == "mix" else spec.texture
        bank = _value(command, "--bank")
        if spec.dynamic or kind not in ("statistical", "stylegan", "stylegan_highfreq"):
            assert bank is None, command
        else:
            assert bank == _value(banks[kind], "--out"), command
            read.add(kind)
        needs_images = spec.texture in ("imagenet", "mix") or spec.background == "image"
        assert (_value(command, "--imagenet") == "$IMAGENET_ROOT") == needs_images, command
    assert read == set(banks)
    if profile == "paper":
        assert list(banks) == ["statistical", "stylegan"]


def test_bank_kinds_are_sources_the_bank_script_writes():
    import importlib.util
    spec = importlib.util.spec_from_file_location("banks", ROOT / "data_gen" / "3_1_texture_banks.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    source = next(a for a in script.get_args_parser()._actions if a.dest == "source")
    assert set(P.BANK_KINDS) == set(source.choices)


def test_objectives_are_the_engines():
    from synvid.engine.objectives import OBJECTIVES
    assert P.OBJECTIVES == tuple(OBJECTIVES) and P.PAPER_OBJECTIVE == P.OBJECTIVES[0]


def test_mix_runs_are_keyed_as_provenance_reads_them(tmp_path):
    """Table 11: the plan's folder of each mix is the key provenance gives the run from its saved config."""
    plan = _plan(ablations=True)
    mixes = [c for c in plan.commands("pretrain") if "--mix-fraction" in c]
    assert len(mixes) == len(P.MIXES)
    for command, (name, fraction) in zip(mixes, P.MIXES):
        config = {"dataset": name, "mix_name": P.MIX_REAL, "PretrainConfig": {"mix_fraction": fraction}}
        if progression.spec(name).fixed:           # a materialised set: its name comes from the list's folder
            (tmp_path / name).mkdir(exist_ok=True)
            (tmp_path / name / "config.json").write_text(f'{{"dataset": "{name}"}}')
            config = {**config, "dataset": None, "list": str(tmp_path / name / "train.csv")}
        key = provenance._pretrain_key(config, tmp_path)
        assert _value(command, "--out") == f"runs/paper/pretrain/{key}"
        assert f"--init runs/paper/pretrain/{key}/last.pth --out runs/paper/finetune/ucf101/{key}" in "\n".join(
            plan.commands("finetune"))
    assert P.mix_key("accelerating_transforming_shapes", 0.25) == "accelerating_transforming_shapes_ucf101_25pct"


def test_planned_cells_cover_every_reported_cell():
    """Tables 1-4 and 9-12: every cell of reported.csv is planned by the full paper plan (ViT-B runs only)."""
    env = {"K400_ROOT": "/k400", "VIDEOMAE_UCF101_CKPT": "/u.pth", "VIDEOMAE_K400_CKPT": "/k.pth"}
    plan = _plan(ablations=True, vit_l=True, env=env)
    with open(ROOT / "paper_tables" / "reported.csv") as f:
        cells = {f"{r['column']}:{r['dataset']}" for r in csv.DictReader(f) if r["table"].startswith("table")}
    planned = set(plan.planned_cells())
    assert cells - planned == set()
    assert planned == set(_plan(ablations=True, env=env).planned_cells())     # the ViT-L series fills no table
    assert plan.commands("tables")[0].endswith("--planned " + ",".join(sorted(planned)))


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_toy_profiles_leave_the_optional_real_inputs_out(profile):
    """An exported K400_ROOT or official checkpoint adds no real-data rows to a toy plan (which reads no data)."""
    env = {"K400_ROOT": "/k400", "VIDEOMAE_UCF101_CKPT": "/u.pth", "VIDEOMAE_K400_CKPT": "/k.pth"}
    text = "\n".join(c for stage in P.STAGES for c in _plan(profile, env=env).commands(stage))
    assert "k400" not in text and "VIDEOMAE" not in text and text == "\n".join(
        c for stage in P.STAGES for c in _plan(profile).commands(stage))
    assert "/finetune/k400/" in "\n".join(_plan(env=env).commands("finetune"))


def test_seeds_repeat_downstream_runs_and_seed_pretraining_feeds_each_its_own():
    shared = _plan("smoke", seeds=(0, 1, 2)).commands("finetune")
    own = _plan("smoke", seeds=(0, 1, 2), seed_pretraining=True)
    probes = [c for c in own.commands("finetune") if "4_3_linprobe.py" in c and "/moving_circles" in c]
    assert [_value(c, "--out") for c in probes] == [f"runs/smoke/linprobe/toy_ucf101/moving_circles{s}"
                                                   for s in ("", "_seed1", "_seed2")]
    assert [_value(c, "--init") for c in probes] == [f"runs/smoke/pretrain/moving_circles{s}/last.pth"
                                                    for s in ("", "_seed1", "_seed2")]
    assert "--seed" not in probes[0] and _value(probes[2], "--seed") == "2"
    assert {_value(c, "--init") for c in shared if "/moving_circles" in c} == {
        "runs/smoke/pretrain/moving_circles/last.pth"}
    assert len([c for c in own.commands("pretrain") if "moving_circles" in c]) == 3


def test_cached_probes_share_one_feature_folder_per_dataset():
    """The miniature's cached probes pass --feature-cache (one folder for every seed); smoke's augmented probes and
    every fine-tune do not."""
    cpu = _plan("cpu", seeds=(0, 1)).commands("finetune")
    probes = [c for c in cpu if "4_3_linprobe.py" in c]
    assert len(probes) == 12 and {_value(c, "--feature-cache") for c in probes} == {
        "runs/cpu/linprobe/toy_actions/features"}
    assert not any("--feature-cache" in c for c in cpu if "4_1_finetune.py" in c)
    assert not any("--feature-cache" in c for c in _plan("smoke").commands("finetune"))


@pytest.mark.parametrize("kw, tag", [
    ({}, ""), ({"ablations": True, "vit_l": True}, ".ablations.vitl"),
    ({"seeds": (0, 1, 2), "seed_pretraining": True}, ".seeds3p"), ({"seeds": (0, 1, 2)}, ".seeds3"),
    ({"seeds": (3, 4, 5), "seed_list": True}, ".seeds3-4-5"), ({"seeds": (0,), "seed_pretraining": True}, ""),
    ({"objectives": ("videomae", "vjepa")}, ".videomae+vjepa")])
def test_stage_markers_name_what_the_stage_was_run_with(kw, tag):
    assert _plan("smoke", **kw).marker("finetune") == f"runs/smoke/stages/finetune{tag}.DONE"


def test_vit_l_series_halves_the_profile_batch():
    plan = _plan(vit_l=True)
    pre = [c for c in plan.commands("pretrain") if "/pretrain_vitl/" in c]
    ft = [c for c in plan.commands("finetune") if "/finetune_vitl/" in c]
    assert len(pre) == len(progression.NAMES) and len(ft) == len(progression.NAMES) + 1
    assert {_value(c, "--batch-size") for c in pre} == {str(resolve(PretrainConfig, "paper").batch_size // 2)}
    assert {_value(c, "--batch-size") for c in ft} == {str(resolve(FinetuneConfig, "paper").batch_size // 2)}


def test_other_objectives_get_their_own_folders_and_the_paper_sets_stay():
    plan = _plan("smoke", objectives=("vjepa",))
    assert all("pretrain_vjepa/" in c and "--objective vjepa" in c for c in plan.commands("pretrain"))
    assert "runs/smoke/finetune_vjepa/toy_ucf101/moving_circles" in "\n".join(plan.commands("finetune"))
    assert [_value(c, "--label") for c in plan.commands("ucf101p")[1:]] == ["scratch", *P.SMOKE_SETS]


def test_dependencies_follow_the_paths_of_the_smoke_plan():
    plan = _plan("smoke")
    runs = plan.stage_runs(P.STAGES)
    deps = P.dependencies(runs)
    outs = [run.out for run in runs]
    probe = next(i for i, r in enumerate(runs) if r.out == "runs/smoke/linprobe/toy_ucf101/moving_circles")
    assert {outs[j] for j in deps[probe]} == {"runs/smoke/toy/toy_ucf101", "runs/smoke/pretrain/moving_circles"}
    assert deps[-1] == list(range(len(runs) - 1))                    # the tables wait for every run


def test_command_line_refuses_bad_flags(capsys):
    for argv in (["--profile", "fast"], ["--only", "nonsense"], ["--seeds", "0"], ["--seed-list", "3,x"],
                 ["--objective", "byol"], ["--wait"], ["--ablation"]):
        with pytest.raises(SystemExit) as stop:
            run_all.main([*argv, "--dry-run"])
        assert stop.value.code == 2, argv
    assert "--wait needs --slurm" in capsys.readouterr().err
    args = run_all.parse(["--profile", "smoke", "--from", "analysis", "--seed-list", "3,4"])
    assert run_all.selected_stages(args) == ["analysis", "tables"]
    assert run_all.settings(args, {}).seeds == (3, 4)


def test_dry_run_prints_stages_and_a_missing_input_still_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for var in ("UCF101_ROOT", "HMDB51_ROOT", "IMAGENET_ROOT", "INCEPTION_WEIGHTS", "I3D_WEIGHTS", "K400_ROOT",
                "VIDEOMAE_UCF101_CKPT", "VIDEOMAE_K400_CKPT", "NPROC"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "runs/smoke/stages").mkdir(parents=True)
    (tmp_path / "runs/smoke/stages/data.DONE").write_text("")
    assert run_all.main(["--profile", "smoke", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("##")] == ["## stage data (DONE, would be skipped)", *(
        f"## stage {s}" for s in P.STAGES[1:])]
    with pytest.raises(SystemExit) as stop:
        run_all.main(["--profile", "paper", "--only", "finetune", "--dry-run"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "UCF101_ROOT (" in err and "blocks stage(s) finetune" in err
    assert "I3D_WEIGHTS" not in err and "optional K400_ROOT not set: Table 4" in err
    assert "prepare: python data_gen/0_prepare_data.py --dataset ucf101" in err


def test_steps_for_the_shell_loop(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_all.main(["--profile", "cpu", "--only", "ucf101p"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "stage ucf101p runs/cpu/stages/ucf101p.DONE runs/cpu/logs/ucf101p.log", "done ucf101p"]
    run_all.main(["--profile", "smoke", "--only", "tables", "--seeds", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "stage tables runs/smoke/stages/tables.seeds2.DONE runs/smoke/logs/tables.log"
    assert lines[1].startswith("run tables python paper_tables/make_tables.py --profile smoke") and len(lines) == 3


@pytest.mark.slow
def test_the_plan_needs_neither_numpy_nor_torch():
    """run_all.sh builds the plan with the system python3, before the environment is bootstrapped."""
    code = ("import sys, synvid.run_all, synvid.plan; "
            "print(sorted(m for m in ('numpy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
