"""`run_all.sh --slurm`: every run of the selected stages as one SLURM job, with per-run `afterok` dependencies.

run_all.sh runs `python -m synvid.slurm` with its own flags; the runs and their dependencies are the plan's
(synvid.plan, the one source of commands: a job waits for every earlier run whose `--out` is a path it names, and
the tables job for every job). Each run becomes a readable sbatch script in runs/<profile>/slurm/:
- jobs are named after their --out (unique per profile; two runs writing one folder get their script's name too);
- idempotent: a stage whose DONE marker exists is skipped; a run whose job finished (`<name>.DONE` next to its
  script) or whose `--out` holds DONE is skipped; a job of the same name that is still queued or running (squeue)
  is reused, not submitted twice; a failed or timed-out run is submitted again and resumes from its last.pth (the
  engines resume by themselves);
- preemption and time limits: `--signal=B:USR1@WARN` warns the batch shell, which forwards SIGTERM to the run
  (synvid.engine.common.StopSignal saves last.pth at the step boundary) and requeues the job
  (scripts/slurm_job.sh).
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from synvid import run_all
from synvid.errors import BadInput
from synvid.plan import Plan, Run, dependencies, option

# Python scripts that use a GPU by default (the others get one when their command says --device cuda)
GPU_SCRIPTS = ("4_2_eval_ucf101p.py",)
WARN_SECONDS = 300        # --signal lead time: enough for one training step plus an atomic last.pth of ViT-B
RDZV_PORT = 29500         # c10d rendezvous port on the first node of a multi-node pre-training


@dataclass
class Job:
    stage: str
    command: str
    out: str
    name: str = ""
    deps: list[str] = field(default_factory=list)   # names of the jobs it waits for (afterok)

    @property
    def script(self) -> str:
        return next(t for t in shlex.split(self.command) if t.endswith(".py"))


def build_jobs(runs: list[Run], profile: str, runs_dir: str) -> list[Job]:
    """Jobs in plan order, named after their --out (unique per profile), with the plan's dependencies."""
    missing = [run.command for run in runs if run.out is None]
    if missing:
        raise BadInput(f"run_all.sh --slurm: a command without --out cannot be a job: {missing[0]}")
    jobs = [Job(run.stage, run.command, run.out) for run in runs]
    outs = [j.out for j in jobs]
    for job in jobs:
        rel = str(PurePosixPath(job.out).relative_to(runs_dir)) if job.out.startswith(runs_dir + "/") else job.out
        if outs.count(job.out) > 1:       # e.g. 5_3 and 5_4 share the statistics folder
            rel += "/" + Path(job.script).stem
        job.name = f"synvid.{profile}." + re.sub(r"[^A-Za-z0-9_.-]+", ".", rel)
    for job, deps in zip(jobs, dependencies(runs)):
        job.deps = [jobs[i].name for i in deps]
    return jobs


@dataclass
class Options:
    profile: str
    runs: str
    root: str
    python: str
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str = "24:00:00"
    nodes_per_pretrain: int = 1
    gpus_per_node: int = 8

    @property
    def gpus(self) -> bool:
        return self.profile != "smoke"    # the smoke profile runs on CPUs only

    @property
    def folder(self) -> Path:
        return Path(self.root, self.runs, "slurm")


def resources(job: Job, opts: Options) -> list[str]:
    """sbatch resource options of a job."""
    if not opts.gpus:
        return ["--nodes=1", "--ntasks=1", "--cpus-per-task=1"]
    if job.command.startswith("torchrun "):   # whole nodes; pre-training spans --nodes-per-pretrain of them
        nodes = opts.nodes_per_pretrain if job.stage == "pretrain" else 1
        return [f"--nodes={nodes}", "--ntasks-per-node=1", f"--gpus-per-node={opts.gpus_per_node}", "--exclusive"]
    wants_gpu = Path(job.script).name in GPU_SCRIPTS or option(job.command, "--device") == "cuda"
    gpu = ["--gpus-per-node=1"] if wants_gpu else []
    return ["--nodes=1", "--ntasks=1", f"--cpus-per-task={16 if job.stage == 'data' else 8}", *gpu]


def launch(job: Job, opts: Options) -> str:
    """The command with its launcher for SLURM: the interpreter for python, torchrun per node for torchrun."""
    tokens = job.command.split(" ")
    if tokens[0] == "python":
        return " ".join([shlex.quote(opts.python), *tokens[1:]])
    rest = " ".join(tokens[next(i for i, t in enumerate(tokens) if t.endswith(".py")):])   # drop torchrun's flags
    run = f"{shlex.quote(opts.python)} -m torch.distributed.run --nproc_per_node={opts.gpus_per_node}"
    if job.stage == "pretrain" and opts.nodes_per_pretrain > 1:
        return (f'srun --ntasks-per-node=1 {run} --nnodes="$SLURM_NNODES" --rdzv_backend=c10d '
                f'--rdzv_endpoint="$FIRST_NODE:{RDZV_PORT}" --rdzv_id="$SLURM_JOB_ID" {rest}')
    return f"{run} --standalone {rest}"


def batch_script(job: Job, opts: Options) -> str:
    folder = opts.folder
    header = [f"--job-name={job.name}", f"--output={folder}/logs/{job.name}.%j.log", "--open-mode=append",
              f"--time={opts.time}", f"--signal=B:USR1@{WARN_SECONDS}", "--requeue", "--kill-on-invalid-dep=yes",
              *resources(job, opts)]
    header += [f"--{k}={v}" for k, v in (("partition", opts.partition), ("account", opts.account),
                                         ("qos", opts.qos)) if v]
    lines = ["#!/bin/bash", f"# run_all.sh --profile {opts.profile} --slurm: stage {job.stage}, run {job.out}",
             f"# after (afterok): {' '.join(job.deps) if job.deps else 'nothing'}",
             *[f"#SBATCH {h}" for h in header], "set -uo pipefail", f"cd {shlex.quote(opts.root)}",
             "source scripts/slurm_job.sh   # run_job: warning signal -> checkpoint -> requeue; DONE marker"]
    if "$FIRST_NODE" in launch(job, opts):
        lines.append('FIRST_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)')
    lines.append(f"run_job {shlex.quote(str(folder / (job.name + '.DONE')))} {launch(job, opts)}")
    return "\n".join(lines) + "\n"


def finished(job: Job, opts: Options, jobs: list[Job]) -> bool:
    """The job's own DONE marker, or the run's DONE when no other job writes the same --out."""
    shared = sum(j.out == job.out for j in jobs) > 1
    return (opts.folder / f"{job.name}.DONE").exists() or not shared and Path(opts.root, job.out, "DONE").exists()


def queued() -> dict[str, str]:
    """Job name -> id of this user's jobs that are pending or running (a requeued job is pending)."""
    lines = subprocess.run(["squeue", "--me", "-h", "-o", "%j|%i"], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    return dict(line.split("|", 1) for line in lines if "|" in line)


def submit(jobs: list[Job], opts: Options) -> dict[str, str]:
    """Submit the jobs not finished and not queued; returns name -> job id of every job now in the queue."""
    (opts.folder / "logs").mkdir(parents=True, exist_ok=True)
    active = queued()
    ids = {}
    for job in jobs:
        if finished(job, opts, jobs):
            print(f"== {job.name}: done, skipped")
            continue
        if job.name in active:
            ids[job.name] = active[job.name]
            print(f"== {job.name}: already queued or running as job {ids[job.name]}")
            continue
        script = opts.folder / f"{job.name}.sbatch"
        script.write_text(batch_script(job, opts))
        after = [ids[d] for d in job.deps if d in ids]   # finished dependencies need no wait
        cmd = ["sbatch", "--parsable", *([f"--dependency=afterok:{':'.join(after)}"] if after else []), str(script)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"run_all.sh --slurm: sbatch refused {script}: {done.stderr.strip()}")
        ids[job.name] = done.stdout.strip().split(";")[0]
        print(f"== {job.name}: submitted job {ids[job.name]}{' after ' + ','.join(after) if after else ''}")
    return ids


def wait(ids: dict[str, str], opts: Options, poll: float = 5.0) -> int:
    """Block until none of the jobs is queued or running; non-zero when one ended without its DONE marker."""
    remaining = set(ids.values())
    while remaining:
        time.sleep(poll)
        remaining &= set(queued().values())
    failed = [name for name in ids if not (opts.folder / f"{name}.DONE").exists()]
    for name in failed:
        print(f"run_all.sh --slurm: job {ids[name]} ({name}) failed; log: "
              f"{opts.folder}/logs/{name}.{ids[name]}.log", file=sys.stderr)
    if not failed:
        print(f"== all {len(ids)} jobs done")
    return 1 if failed else 0


def direct(jobs: list[Job]) -> dict[str, list[str]]:
    """The dependency graph without the edges implied by others (the tables job waits for the last jobs only)."""
    ancestors, graph = {}, {}
    for job in jobs:
        graph[job.name] = [d for d in job.deps if not any(d in ancestors[e] for e in job.deps if e != d)]
        ancestors[job.name] = set(job.deps).union(*(ancestors[d] for d in job.deps))
    return graph


def dry_run(jobs: list[Job], opts: Options) -> None:
    """Print every batch script and the dependency graph; submit nothing."""
    for job in jobs:
        state = " (DONE, would be skipped)" if finished(job, opts, jobs) else ""
        print(f"#### {opts.folder / (job.name + '.sbatch')}{state}\n{batch_script(job, opts)}")
    print("## dependency graph (job <- the jobs it waits for; edges implied by others left out)")
    for name, deps in direct(jobs).items():
        print(f"{name} <- {', '.join(deps) if deps else '(none)'}")


def get_args_parser() -> argparse.ArgumentParser:
    """run_all.sh's flags (synvid.run_all), and where the jobs run."""
    p = run_all.get_args_parser()
    p.add_argument("--root", default=".", help="repository root (jobs run there)")
    p.add_argument("--python", default=sys.executable, help="interpreter the jobs run")
    p.set_defaults(slurm=True)
    return p


def options(args: argparse.Namespace) -> Options:
    """The sbatch settings of the command line (a clear error for a malformed --time or count)."""
    opts = Options(args.profile, f"runs/{args.profile}", str(Path(args.root).resolve()), args.python,
                   args.partition, args.account, args.qos)
    for name in ("time", "nodes_per_pretrain", "gpus_per_node"):
        if getattr(args, name) is not None:
            setattr(opts, name, getattr(args, name))
    if not re.fullmatch(r"\d+(-\d+)?:\d\d:\d\d|\d+", opts.time):
        raise SystemExit(f"run_all.sh --slurm: --time must be HH:MM:SS, got {opts.time!r}")
    if opts.nodes_per_pretrain < 1 or opts.gpus_per_node < 1:
        raise SystemExit("run_all.sh --slurm: --nodes-per-pretrain and --gpus-per-node must be at least 1")
    return opts


def plan_jobs(args: argparse.Namespace, opts: Options) -> list[Job]:
    """The jobs of the selected stages whose DONE marker does not exist (inputs checked unless a dry run)."""
    settings, stages = run_all.settings(args, os.environ), run_all.selected_stages(args)
    if not args.dry_run:
        run_all.check_inputs(settings, stages)
        settings = run_all.with_gpu_count(settings)
    plan = Plan(settings)
    todo = []
    for stage in stages:
        if Path(opts.root, plan.marker(stage)).exists():
            print(f"== {stage}: done, skipped", file=sys.stderr)
        else:
            todo.append(stage)
    return build_jobs(plan.stage_runs(todo), opts.profile, opts.runs)


def main(argv: list[str] | None = None) -> int:
    args = run_all.parse(argv, get_args_parser())
    opts = options(args)
    jobs = plan_jobs(args, opts)
    missing = sorted({j.script for j in jobs if not Path(opts.root, j.script).exists()})
    if missing:
        raise SystemExit(f"run_all.sh --slurm: not implemented yet ({', '.join(missing)} missing)")
    if args.dry_run:
        dry_run(jobs, opts)
        return 0
    if not (shutil.which("sbatch") and shutil.which("squeue")):
        raise SystemExit("run_all.sh --slurm: sbatch/squeue not found; run it on a SLURM login node (or --dry-run)")
    ids = submit(jobs, opts)
    return wait(ids, opts) if args.wait else 0


if __name__ == "__main__":
    sys.exit(main())
