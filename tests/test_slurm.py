"""run_all.sh --slurm without a cluster: jobs and dependencies derived from the commands, the batch scripts of
`--dry-run --slurm`, `--wait`'s report, and the batch scripts' warning-signal -> checkpoint -> requeue path with
a real pre-training (the job submission itself is tested against a real SLURM in test_slurm_cluster.py)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from checkout import copy_checkout

from synvid import slurm
from synvid.data.lists import write_list
from synvid.plan import Run
from synvid.video_io import write_video

ROOT = Path(__file__).resolve().parents[1]
R = "runs/paper"


def _commands(*pairs):
    return [Run(stage, cmd) for stage, cmd in pairs]


def test_dependencies_come_from_the_paths_each_command_names():
    jobs = slurm.build_jobs(_commands(
        ("data", f"python data_gen/3_1_texture_banks.py --source statistical --out {R}/textures/statistical"),
        ("data", f"python data_gen/3_1_generate.py --dataset t --bank {R}/textures/statistical --out {R}/data/t"),
        ("pretrain", f"torchrun --nproc_per_node 8 pretrain/3_2_pretrain.py --list {R}/data/t/train.csv "
                     f"--out {R}/pretrain/t"),
        ("pretrain", f"torchrun --nproc_per_node 8 pretrain/3_2_pretrain.py --dataset c --out {R}/pretrain/c"),
        ("finetune", f"torchrun --nproc_per_node 8 finetune/4_1_finetune.py --data-root $UCF101_ROOT "
                     f"--init {R}/pretrain/c/last.pth --out {R}/finetune/ucf101/c"),
        ("analysis", f"python analysis/5_3_similarity.py --datasets t,c --out {R}/analysis/stats"),
        ("analysis", f"python analysis/5_4_frame_properties.py --datasets t,c --out {R}/analysis/stats"),
        ("analysis", f"python analysis/5_5_visualize_features.py --checkpoints {R}/pretrain/t/last.pth,"
                     f"{R}/pretrain/c/last.pth --out {R}/analysis/fig5"),
        ("analysis", f"python analysis/5_4_correlations.py --runs {R} --out {R}/analysis/fig4"),
        ("tables", f"python paper_tables/make_tables.py --runs {R} --out results/paper"),
    ), "paper", R)
    deps = {j.name.removeprefix("synvid.paper."): [d.removeprefix("synvid.paper.") for d in j.deps] for j in jobs}
    assert deps["data.t"] == ["textures.statistical"]                      # --bank
    assert deps["pretrain.t"] == ["data.t"]                                 # --list inside data/t
    assert deps["pretrain.c"] == []                                         # rendered on the fly
    assert deps["finetune.ucf101.c"] == ["pretrain.c"]                      # its own pre-training only
    # two jobs writing one folder run one after the other, under distinct names
    assert deps["analysis.stats.5_3_similarity"] == [] and deps["analysis.stats.5_4_frame_properties"] == [
        "analysis.stats.5_3_similarity"]
    assert deps["analysis.fig5"] == ["pretrain.t", "pretrain.c"]            # comma-separated paths
    assert len(deps["analysis.fig4"]) == 8                                  # --runs: every run under it
    assert len(deps["results.paper"]) == 9                                  # the tables wait for everything
    assert slurm.direct(jobs)["synvid.paper.results.paper"] == ["synvid.paper.analysis.fig4"]


def _run_all(*args, env=None, cwd=ROOT):
    return subprocess.run(["bash", "run_all.sh", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "VIRTUAL_ENV": sys.prefix, "PYTHONPATH": str(cwd),
                               "PATH": f"{Path(sys.prefix, 'bin')}:{os.environ['PATH']}", **(env or {})})


def _scripts(dry_run_output: str) -> dict[str, str]:
    """job name -> batch script, from the output of --dry-run --slurm"""
    parts = dry_run_output.split("## dependency graph")[0].split("#### ")[1:]
    return {Path(p.split("\n", 1)[0].split(" ")[0]).stem: p.split("\n", 1)[1] for p in parts}


@pytest.mark.slow
def test_dry_run_prints_every_batch_script_and_the_graph_smoke_asks_for_no_gpu(tmp_path):
    repo = copy_checkout(tmp_path)            # a finished local smoke run would leave nothing to plan
    out = _run_all("--profile", "smoke", "--slurm", "--dry-run", cwd=repo)
    assert out.returncode == 0, out.stderr
    scripts = _scripts(out.stdout)
    plain = _run_all("--profile", "smoke", "--dry-run", cwd=repo)
    commands = [c for c in plain.stdout.splitlines() if not c.startswith("##")]
    assert len(scripts) == len(commands) > 20                               # one job per command
    for script in scripts.values():
        assert "#SBATCH --cpus-per-task=1" in script and "gpu" not in script and "--signal=B:USR1@" in script
    job = scripts["synvid.smoke.finetune.toy_hmdb51.moving_circles"]
    assert "run_job" in job and "finetune/4_1_finetune.py" in job
    assert "--init runs/smoke/pretrain/moving_circles/last.pth" in job
    graph = out.stdout.split("## dependency graph")[1]
    assert ("synvid.smoke.finetune.toy_hmdb51.moving_circles <- synvid.smoke.toy.toy_hmdb51, "
            "synvid.smoke.pretrain.moving_circles\n") in graph
    assert not (repo / "runs/smoke/slurm").exists() or "sbatch" not in out.stderr   # nothing submitted


@pytest.mark.slow
def test_paper_jobs_span_nodes_for_pretraining_and_one_node_otherwise():
    out = _run_all("--profile", "paper", "--slurm", "--dry-run", "--nodes-per-pretrain", "4", "--gpus-per-node",
                   "8", "--partition", "gpu", "--time", "12:00:00",
                   env={"UCF101_ROOT": "/data/ucf101", "HMDB51_ROOT": "/data/hmdb51"})  # dry run: not checked
    assert out.returncode == 0, out.stderr
    scripts = _scripts(out.stdout)
    pre = scripts["synvid.paper.pretrain.moving_circles"]
    assert "#SBATCH --nodes=4" in pre and "#SBATCH --gpus-per-node=8" in pre and "#SBATCH --partition=gpu" in pre
    assert "srun --ntasks-per-node=1" in pre and "--rdzv_backend=c10d" in pre and "FIRST_NODE=$(scontrol" in pre
    assert "#SBATCH --time=12:00:00" in pre and "torchrun" not in pre.split("run_job")[1]
    ft = scripts["synvid.paper.finetune.ucf101.moving_circles"]
    assert "#SBATCH --nodes=1" in ft and "--standalone --nproc_per_node" not in ft and "--standalone" in ft
    assert "after (afterok): synvid.paper.pretrain.moving_circles" in ft
    assert "--gpus-per-node=1" in scripts["synvid.paper.ucf101p.eval.scratch"]


@pytest.mark.slow
def test_slurm_options_need_slurm_and_bad_values_are_refused():
    out = _run_all("--profile", "smoke", "--wait")
    assert out.returncode == 2 and "--wait needs --slurm" in out.stderr
    out = _run_all("--profile", "smoke", "--slurm", "--dry-run", "--time", "2h")
    assert out.returncode != 0 and "HH:MM:SS" in out.stderr


def test_wait_names_the_failed_jobs_and_their_logs(tmp_path, monkeypatch, capsys):
    opts = slurm.Options("smoke", "runs/smoke", str(tmp_path), sys.executable)
    opts.folder.mkdir(parents=True)
    (opts.folder / "a.DONE").write_text("")
    monkeypatch.setattr(slurm, "queued", lambda: {})
    assert slurm.wait({"a": "11", "b": "12"}, opts, poll=0) == 1
    assert f"job 12 (b) failed; log: {opts.folder}/logs/b.12.log" in capsys.readouterr().err
    (opts.folder / "b.DONE").write_text("")
    assert slurm.wait({"a": "11", "b": "12"}, opts, poll=0) == 0


@pytest.mark.slow
def test_warning_signal_checkpoints_requeues_and_the_rerun_finishes(tmp_path):
    """The batch scripts' run_job with a real pre-training: USR1 to the batch shell -> SIGTERM to the run ->
    last.pth at the step boundary, exit 75 -> `scontrol requeue $SLURM_JOB_ID`; the rerun resumes and finishes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/scontrol.calls\n")
    (bin_dir / "scontrol").chmod(0o755)
    rng = np.random.default_rng(0)
    for i in range(8):
        write_video(tmp_path / f"v{i}.mp4", (rng.random((12, 48, 64, 3)) * 255).astype(np.uint8), fps=25)
    videos = write_list(tmp_path / "train.csv", [(f"v{i}.mp4", 0) for i in range(8)])
    run_dir, marker = tmp_path / "run", tmp_path / "job.DONE"
    cmd = (f"source scripts/slurm_job.sh; run_job {marker} {sys.executable} pretrain/3_2_pretrain.py --profile smoke "
           f"--list {videos} --epochs 10 --no-progress --out {run_dir}")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "4242", "PYTHONPATH": str(ROOT)}
    job = subprocess.Popen(["bash", "-c", cmd], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    log = run_dir / "log.jsonl"
    deadline = time.time() + 120
    while not (log.exists() and log.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    job.send_signal(signal.SIGUSR1)
    output = job.communicate(timeout=600)[0]
    assert job.returncode == 0, output
    assert (tmp_path / "scontrol.calls").read_text() == "requeue 4242\n" and "warning signal" in output
    import torch
    saved = torch.load(run_dir / "last.pth", weights_only=True)["step"]
    assert 0 < saved < 20 and not (run_dir / "DONE").exists() and not marker.exists()
    rerun = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0 and marker.exists(), rerun.stdout + rerun.stderr
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == list(range(1, 21)) and json.loads((run_dir / "DONE").read_text())["steps"] == 20
    assert (tmp_path / "scontrol.calls").read_text() == "requeue 4242\n"     # no second requeue
