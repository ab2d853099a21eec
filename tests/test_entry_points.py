"""run_all.sh's plan and argument checks, through its --dry-run (bash and Python processes: the tests that run it are
`slow`). Each entry script's --help and bad flags: tests/test_docs_commands.py, in its one helper process."""
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["data", "pretrain", "finetune", "ucf101p", "analysis", "tables"]


def run(*args, **kw):
    return subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=120, **kw)


@pytest.mark.slow
def test_dry_run_lists_every_stage_with_its_commands():
    out = run("bash", "run_all.sh", "--profile", "smoke", "--dry-run")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    headers = [line.split()[2] for line in lines if line.startswith("## stage")]
    assert headers == STAGES
    for stage in STAGES:  # each stage has at least one command under its header
        index = lines.index(next(line for line in lines if line.startswith(f"## stage {stage}")))
        assert lines[index + 1].startswith(("python ", "torchrun ")), stage


@pytest.mark.slow
def test_run_all_refuses_bad_arguments():
    assert run("bash", "run_all.sh", "--profile", "fast", "--dry-run").returncode == 2
    assert run("bash", "run_all.sh", "--only", "nonsense", "--dry-run").returncode == 2
    only = run("bash", "run_all.sh", "--profile", "smoke", "--dry-run", "--from", "analysis")
    assert [line.split()[2] for line in only.stdout.splitlines() if line.startswith("##")] == ["analysis", "tables"]


def _real_inputs(tmp_path: Path) -> dict:
    """An environment whose required inputs exist (empty folders and files: enough for --dry-run)."""
    for folder in ("ucf/UCF-101", "hmdb", "imagenet", "k400"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    for name in ("inception.pth", "i3d.pt", "official.pth"):
        (tmp_path / name).write_bytes(b"")
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "UCF101_ROOT": str(tmp_path / "ucf"),
            "HMDB51_ROOT": str(tmp_path / "hmdb"), "IMAGENET_ROOT": str(tmp_path / "imagenet"),
            "INCEPTION_WEIGHTS": str(tmp_path / "inception.pth"), "I3D_WEIGHTS": str(tmp_path / "i3d.pt")}


@pytest.mark.slow
@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "real"])
def test_paper_profile_names_missing_inputs_and_the_stages_they_block(tmp_path, dry):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    flags = ["--dry-run"] if dry else []
    out = run("bash", "run_all.sh", "--profile", "paper", "--only", "finetune", *flags, env=env)
    assert out.returncode == 2, out.stderr
    assert "UCF101_ROOT (" in out.stderr and "HMDB51_ROOT (" in out.stderr and "blocks stage(s) finetune" in out.stderr
    assert "I3D_WEIGHTS" not in out.stderr                               # the analysis stage is not selected
    assert "optional K400_ROOT not set: Table 4" in out.stderr
    data = run("bash", "run_all.sh", "--profile", "mini", "--only", "data", *flags, env=env)
    assert data.returncode == 2 and "IMAGENET_ROOT (" in data.stderr and "HMDB51_ROOT" not in data.stderr
    assert not (ROOT / "runs" / "mini" / "stages").exists() or dry      # nothing started
    ok = run("bash", "run_all.sh", "--profile", "paper", "--dry-run", env=_real_inputs(tmp_path))
    assert ok.returncode == 0, ok.stderr


def _planned(stdout: str) -> set[str]:
    line = next(line for line in stdout.splitlines() if "make_tables.py" in line)
    return set(line.split("--planned ")[1].split(","))


@pytest.mark.slow
def test_every_cell_of_tables_1_and_4_is_launched(tmp_path):
    """Table 1 (scratch included: HMDB51 fine-tune, UCF101 probe) and Table 4 cells are all planned."""
    import csv
    env = {**_real_inputs(tmp_path), "K400_ROOT": str(tmp_path / "k400"),
           "VIDEOMAE_UCF101_CKPT": str(tmp_path / "official.pth"), "VIDEOMAE_K400_CKPT": str(tmp_path / "official.pth")}
    out = run("bash", "run_all.sh", "--profile", "paper", "--dry-run", env=env)
    assert out.returncode == 0, out.stderr
    with open(ROOT / "paper_tables" / "reported.csv") as f:
        cells = {f"{r['column']}:{r['dataset']}" for r in csv.DictReader(f) if r["table"] in ("table1", "table4")}
    assert cells - _planned(out.stdout) == set()
    assert {"hmdb51_finetune:scratch", "ucf101_linprobe:scratch"} <= _planned(out.stdout)


@pytest.mark.slow
def test_vit_l_series_halves_the_batch(tmp_path):
    from synvid import config, progression
    out = run("bash", "run_all.sh", "--profile", "paper", "--vit-l", "--dry-run", env=_real_inputs(tmp_path))
    assert out.returncode == 0, out.stderr
    pre = [line for line in out.stdout.splitlines() if "/pretrain_vitl/" in line and "3_2_pretrain" in line]
    ft = [line for line in out.stdout.splitlines() if "/finetune_vitl/" in line]
    assert len(pre) == len(progression.NAMES) and len(ft) == len(progression.NAMES) + 1   # + scratch
    half = config.resolve(config.PretrainConfig, "paper").batch_size // 2
    assert all(f"--model pretrain_videomae_large_patch16_224 --batch-size {half}" in line for line in pre)
    half = config.resolve(config.FinetuneConfig, "paper").batch_size // 2
    assert all(f"--model vit_large_patch16_224 --batch-size {half}" in line for line in ft)
    assert all("/finetune_vitl/" not in c for c in _planned(out.stdout))     # the ViT-B tables' plan only


@pytest.mark.slow
@pytest.mark.parametrize("pretraining", [False, True])
def test_seeds_repeat_downstream_runs(pretraining):
    flags = ["--seed-pretraining"] if pretraining else []
    out = run("bash", "run_all.sh", "--profile", "smoke", "--seeds", "3", *flags, "--dry-run")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    probes = [line for line in lines if "4_3_linprobe.py" in line and "/moving_circles" in line]
    assert [line.split("--out ")[1].split()[0].rsplit("/", 1)[1] for line in probes] == [
        "moving_circles", "moving_circles_seed1", "moving_circles_seed2"]
    assert "--seed" not in probes[0] and "--seed 2 " in probes[2]
    inits = [line.split("--init ")[1].split()[0] for line in probes]
    pretrain = [line for line in lines if "3_2_pretrain.py" in line and "moving_circles" in line]
    if pretraining:
        assert len(pretrain) == 3 and inits[2].endswith("pretrain/moving_circles_seed2/last.pth")
    else:
        assert len(pretrain) == 1 and len(set(inits)) == 1
    assert "stages/" not in out.stdout or "seeds3" in out.stdout
    assert run("bash", "run_all.sh", "--seeds", "0", "--dry-run").returncode == 2


@pytest.mark.slow
def test_ablations_plan_covers_every_reported_ablation(tmp_path):
    """--ablations: each synthetic key of Tables 2, 3, 9-12 is pre-trained and fine-tuned on UCF101 under its key."""
    import csv
    env = {**_real_inputs(tmp_path), "K400_ROOT": str(tmp_path / "k400"),
           "VIDEOMAE_UCF101_CKPT": str(tmp_path / "official.pth"), "VIDEOMAE_K400_CKPT": str(tmp_path / "official.pth")}
    out = run("bash", "run_all.sh", "--profile", "paper", "--ablations", "--dry-run", env=env)
    assert out.returncode == 0, out.stderr
    with open(ROOT / "paper_tables" / "reported.csv") as f:
        rows = list(csv.DictReader(f))
    keys = {r["dataset"] for r in rows if r["table"] in {"table1", "table2", "table3", "table4", "table9", "table10",
                                                          "table11", "table12"}}
    finetuned = {line.split("--out ")[1].split()[0].split("/")[-1] for line in out.stdout.splitlines()
                 if "4_1_finetune.py" in line}
    assert keys - finetuned == set()
    assert "--mix-fraction 0.25" in out.stdout and "--pretrain-name k400" in out.stdout
    cells = {f"{r['column']}:{r['dataset']}" for r in rows if r["table"].startswith("table")}
    assert cells - _planned(out.stdout) == set()                         # every cell of Tables 1-4, 9-12
    from synvid import progression                                       # Fig. 4 statistics over every set
    stats = next(line for line in out.stdout.splitlines() if "5_4_frame_properties.py" in line)
    assert set(stats.split("--datasets ")[1].split()[0].split(",")) == set(progression.NAMES) | set(
        progression.ABLATIONS)


@pytest.mark.slow
def test_paper_analysis_commands_pass_the_weights_their_statistics_need(tmp_path):
    """Each 5_3 / 5_4 command of the paper plan parses, and names the weight files of the statistics it computes."""
    import importlib.util
    import shlex

    from synvid.stats.compute import NEEDS, parse_stats
    out = run("bash", "run_all.sh", "--profile", "paper", "--only", "analysis", "--dry-run", env=_real_inputs(tmp_path))
    commands = [shlex.split(line) for line in out.stdout.splitlines() if "analysis/5_3" in line or "analysis/5_4_f" in line]
    assert len(commands) == 2
    for cmd in commands:
        spec = importlib.util.spec_from_file_location("script", ROOT / cmd[1])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        args = module.get_args_parser().parse_args(cmd[2:])
        needs = {NEEDS[s] for s in parse_stats(args.stats) if s in NEEDS}
        assert ("inception" not in needs or args.inception_weights) and ("i3d" not in needs or args.i3d_weights)


@pytest.mark.slow
def test_run_all_objectives_key_runs_by_objective():
    """--objective(s) adds V-JEPA pre-training of the progression in pretrain_vjepa/ and feeds it to the
    same downstream stages in <stage>_vjepa/ folders; VideoMAE's folders are unchanged."""
    out = run("bash", "run_all.sh", "--profile", "smoke", "--objectives", "videomae,vjepa", "--dry-run")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "--objective vjepa --out runs/smoke/pretrain_vjepa/moving_circles" in text
    assert "--init runs/smoke/pretrain_vjepa/moving_circles/last.pth --out runs/smoke/finetune_vjepa/toy_ucf101/" in text
    assert "--out runs/smoke/linprobe_vjepa/toy_ucf101/moving_circles" in text
    assert "--run runs/smoke/finetune_vjepa/toy_ucf101/moving_circles" in text
    assert "--dataset moving_circles --out runs/smoke/pretrain/moving_circles" in text      # VideoMAE as before
    only = run("bash", "run_all.sh", "--profile", "smoke", "--objective", "vjepa", "--dry-run").stdout
    assert "pretrain_vjepa/moving_circles" in only and "--out runs/smoke/pretrain/moving_circles" not in only
    assert run("bash", "run_all.sh", "--objective", "byol", "--dry-run").returncode == 2


@pytest.mark.slow
def test_cpu_profile_plan_and_seed_list():
    """The miniature: data (the action set), the five shape sets, scratch + M1-M5 fine-tunes and probes on
    toy_actions for exactly the listed seeds, nothing of HMDB51, UCF101-P or Section 5, then its tables."""
    out = run("bash", "run_all.sh", "--profile", "cpu", "--seed-list", "3,4,5", "--dry-run")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line and not line.startswith("##")]
    assert sum("4_0_make_toy.py" in line and "toy_actions" in line for line in lines) == 1
    sets = [line.split("--dataset ")[1].split()[0] for line in lines if "3_2_pretrain.py" in line]
    assert sets == ["static_circles", "moving_circles", "moving_shapes", "moving_transforming_shapes",
                    "accelerating_transforming_shapes"]
    downstream = [line for line in lines if "4_1_finetune.py" in line or "4_3_linprobe.py" in line]
    assert len(downstream) == 2 * 6 * 3 and all("--dataset toy_actions" in line for line in downstream)
    outs = {line.split("--out ")[1].split()[0].rsplit("/", 1)[1] for line in downstream}
    assert outs == {f"{key}_seed{s}" for key in ["scratch"] + sets for s in (3, 4, 5)}
    assert all("_seed" not in line.split("--init ")[1].split()[0] for line in downstream)  # one pre-training per set
    assert not any(name in out.stdout for name in ("hmdb51", "4_2_", "5_3_", "5_4_", "5_5_"))
    assert run("bash", "run_all.sh", "--profile", "cpu", "--seed-list", "3,x", "--dry-run").returncode == 2
