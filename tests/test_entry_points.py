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
