"""The README's commands and every numbered entry script: help works, bad input fails clearly."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for folder in ("data_gen", "pretrain", "finetune", "linprobe", "analysis", "paper_tables")
                 for p in (ROOT / folder).glob("*.py"))
STAGES = ["data", "pretrain", "finetune", "ucf101p", "analysis", "tables"]


def run(*args, **kw):
    return subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=120, **kw)


def test_dry_run_lists_every_stage_with_its_commands():
    out = run("bash", "run_all.sh", "--profile", "smoke", "--dry-run")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    headers = [line.split()[2] for line in lines if line.startswith("## stage")]
    assert headers == STAGES
    for stage in STAGES:  # each stage has at least one command under its header
        index = lines.index(next(line for line in lines if line.startswith(f"## stage {stage}")))
        assert lines[index + 1].startswith(("python ", "torchrun ")), stage


def test_run_all_refuses_bad_arguments():
    assert run("bash", "run_all.sh", "--profile", "fast", "--dry-run").returncode == 2
    assert run("bash", "run_all.sh", "--only", "nonsense", "--dry-run").returncode == 2
    only = run("bash", "run_all.sh", "--profile", "smoke", "--dry-run", "--from", "analysis")
    assert [line.split()[2] for line in only.stdout.splitlines() if line.startswith("##")] == ["analysis", "tables"]


def test_paper_profile_names_missing_datasets_before_any_work(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = run("bash", "run_all.sh", "--profile", "paper", "--only", "data", env=env)
    assert out.returncode == 2 and "UCF101_ROOT" in out.stderr and "IMAGENET_ROOT" in out.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_entry_script_help_and_bad_arguments(script):
    assert run(sys.executable, str(script), "--help").returncode == 0
    bad = run(sys.executable, str(script), "--no-such-flag")
    assert bad.returncode != 0 and "error" in bad.stderr.lower()


def _stages_array(name: str) -> set[str]:
    text = (ROOT / "scripts" / "stages.sh").read_text()
    body = text[text.index(f"{name}=(") + len(name) + 2:]
    return set(body[:body.index(")")].split())


def test_ablation_lists_match_the_registry():
    from synvid import progression
    fly, fixed = _stages_array("ABLATIONS_ON_THE_FLY"), _stages_array("ABLATIONS_FIXED")
    assert fly | fixed == set(progression.ABLATIONS) and not fly & fixed
    assert all(progression.DATASETS[n].fixed for n in fixed) and not any(progression.DATASETS[n].fixed for n in fly)


def test_ablations_plan_covers_every_reported_ablation(tmp_path):
    """--ablations: each synthetic key of Tables 2, 3, 9-12 is pre-trained and fine-tuned on UCF101 under its key."""
    import csv
    ckpt = tmp_path / "official.pth"
    ckpt.write_bytes(b"")
    env = {"PATH": "/usr/bin:/bin", "UCF101_ROOT": "/u", "HMDB51_ROOT": "/h", "IMAGENET_ROOT": "/i",
           "K400_ROOT": str(tmp_path), "VIDEOMAE_UCF101_CKPT": str(ckpt), "VIDEOMAE_K400_CKPT": str(ckpt)}
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


def test_paper_analysis_commands_pass_the_weights_their_statistics_need():
    """Each 5_3 / 5_4 command of the paper plan parses, and names the weight files of the statistics it computes."""
    import importlib.util
    import shlex

    from synvid.stats.compute import NEEDS, parse_stats
    env = {"PATH": "/usr/bin:/bin", "UCF101_ROOT": "/u", "HMDB51_ROOT": "/h", "IMAGENET_ROOT": "/i"}
    out = run("bash", "run_all.sh", "--profile", "paper", "--only", "analysis", "--dry-run", env=env)
    commands = [shlex.split(line) for line in out.stdout.splitlines() if "analysis/5_3" in line or "analysis/5_4_f" in line]
    assert len(commands) == 2
    for cmd in commands:
        spec = importlib.util.spec_from_file_location("script", ROOT / cmd[1])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        args = module.get_args_parser().parse_args(cmd[2:])
        needs = {NEEDS[s] for s in parse_stats(args.stats) if s in NEEDS}
        assert ("inception" not in needs or args.inception_weights) and ("i3d" not in needs or args.i3d_weights)


def test_run_all_objectives_key_runs_by_objective():
    """Issue 16: --objective(s) adds V-JEPA pre-training of the progression in pretrain_vjepa/ and feeds it to the
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
