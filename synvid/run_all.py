"""run_all.sh's command line: its flags, the inputs the real-data profiles need, and the plan (synvid.plan) printed
for the shell loop of run_all.sh or, with --dry-run, for people.

    python3 -m synvid.run_all --profile smoke --dry-run      # what `bash run_all.sh --profile smoke --dry-run` prints

Without --dry-run it first refuses missing inputs (exit 2, naming each and the stages it blocks), then prints one
line per step for run_all.sh: `stage NAME MARKER LOG`, `run NAME COMMAND`, `done NAME`.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from synvid.errors import UnknownName
from synvid.plan import OBJECTIVES, STAGES, TOY_PROFILES, Plan, Settings
from synvid.prepare.sources import prepare_command
from synvid.profiles import PROFILES

SLURM_OPTIONS = ("partition", "account", "qos", "time", "nodes_per_pretrain", "gpus_per_node", "wait")


@dataclass(frozen=True)
class Input:
    variable: str
    what: str
    stages: tuple = ()                  # the stages a missing required input blocks


# Required inputs of the real-data profiles (checked for the selected stages)
REQUIRED_INPUTS = (
    Input("UCF101_ROOT", "a folder holding UCF-101/ and ucfTrainTestlist/", ("finetune", "ucf101p", "analysis")),
    Input("HMDB51_ROOT", "HMDB51 videos + testTrainMulti_7030_splits/", ("finetune",)),
    Input("IMAGENET_ROOT", "ImageNet train in ImageFolder layout (image-crop sets, Fig. 1, FID reference)",
          ("data", "pretrain", "analysis")),
    Input("INCEPTION_WEIGHTS", "pt_inception-2015-12-05 .pth, for FID and diversity (docs/statistics.md)",
          ("analysis",)),
    Input("I3D_WEIGHTS", "i3d_torchscript.pt, for FVD (docs/statistics.md)", ("analysis",)),
)
# Optional inputs, and the rows they fill
OPTIONAL_INPUTS = (
    Input("K400_ROOT", "Table 4 (scratch, image crops) and the K400 gap claim"),
    Input("VIDEOMAE_UCF101_CKPT", "the UCF101 rows of Table 1 and Figure 3, and the UCF101 gap claims "
                                  "(official checkpoint)"),
    Input("VIDEOMAE_K400_CKPT", "the Kinetics-400 row of Table 4 (official checkpoint; needs K400_ROOT too)"),
)


def _choice_list(choices, what):
    def parse(text: str) -> tuple:
        values = tuple(text.split(","))
        wrong = [v for v in values if v not in choices]
        if wrong:
            raise argparse.ArgumentTypeError(f"unknown {what} {wrong[0]!r} ({', '.join(choices)})")
        return values
    return parse


def _seeds(regex: str, example: str):
    """Seeds (or a count) as integers, when the text matches `regex`."""
    def parse(text: str) -> tuple:
        if not re.fullmatch(regex, text):
            raise argparse.ArgumentTypeError(f"needs {example}, got {text!r}")
        return tuple(int(v) for v in text.split(","))
    return parse


def get_args_parser() -> argparse.ArgumentParser:
    """run_all.sh's flags (its header comment is their documentation)."""
    p = argparse.ArgumentParser(prog="run_all.sh", allow_abbrev=False,
                                description="Reproduce the paper section by section (see bash run_all.sh --help).")
    p.add_argument("--profile", default="paper", choices=tuple(PROFILES))
    p.add_argument("--ablations", action="store_true")
    p.add_argument("--vit-l", action="store_true")
    p.add_argument("--seeds", type=_seeds(r"[1-9][0-9]*", "a positive count"), default=(1,))
    p.add_argument("--seed-list", type=_seeds(r"[0-9]+(,[0-9]+)*", "seeds like 3,4,5"))
    p.add_argument("--seed-pretraining", action="store_true")
    p.add_argument("--objective", "--objectives", dest="objectives", default=("videomae",),
                   type=_choice_list(OBJECTIVES, "objective"))
    p.add_argument("--only", choices=STAGES)
    p.add_argument("--from", dest="start", choices=STAGES)
    p.add_argument("--dry-run", action="store_true")
    cluster = p.add_argument_group("cluster (synvid.slurm; each needs --slurm)")
    cluster.add_argument("--slurm", action="store_true")
    for name in ("partition", "account", "qos", "time"):
        cluster.add_argument(f"--{name}")
    cluster.add_argument("--nodes-per-pretrain", type=int)
    cluster.add_argument("--gpus-per-node", type=int)
    cluster.add_argument("--wait", action="store_true", default=None)
    return p


def settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    seeds = args.seed_list or tuple(range(*args.seeds))     # --seed-list A,B,...: these seeds instead of 0..K-1
    return Settings(args.profile, args.ablations, args.vit_l, seeds, args.seed_list is not None,
                    args.seed_pretraining, args.objectives, env)


def selected_stages(args: argparse.Namespace) -> list[str]:
    if args.only:
        return [args.only]
    return list(STAGES[STAGES.index(args.start):]) if args.start else list(STAGES)


def _present(variable: str, env: Mapping[str, str]) -> bool:
    value = env.get(variable) or ""
    if variable == "UCF101_ROOT":
        return bool(value) and Path(value, "UCF-101").is_dir()
    if variable.endswith("_WEIGHTS"):
        return bool(value) and Path(value).is_file()
    return bool(value) and Path(value).exists()


def _prepare_hint(variable: str) -> str:
    try:
        return prepare_command(variable)
    except UnknownName:
        return "python data_gen/0_prepare_data.py --list"


def missing_inputs(s: Settings, stages: list[str]) -> list[str]:
    """One line per missing input of a real-data profile that a selected stage needs, or per optional input set to
    a path that does not exist; notes each optional input left unset on stderr."""
    if s.profile in TOY_PROFILES:
        return []
    missing = []
    for item in REQUIRED_INPUTS:
        blocks = item.stages + (("data",) if item.variable == "UCF101_ROOT" and s.ablations else ())  # mix list
        blocked = [stage for stage in blocks if stage in stages]
        if blocked and not _present(item.variable, s.env):
            missing.append(f"{item.variable} ({item.what}): blocks stage(s) {' '.join(blocked)}; "
                           f"prepare: {_prepare_hint(item.variable)}")
    for item in OPTIONAL_INPUTS:         # optional, but a given path must exist
        value = s.env.get(item.variable)
        if value and not Path(value).exists():
            missing.append(f"{item.variable} (set to {value}, which does not exist)")
        if not value:
            print(f"run_all.sh: optional {item.variable} not set: {item.what} stay empty", file=sys.stderr)
    return missing


def check_inputs(s: Settings, stages: list[str]) -> None:
    """Exit 2 naming each missing input and the selected stages it blocks: a clear error before any work."""
    missing = missing_inputs(s, stages)
    if missing:
        print(f"run_all.sh --profile {s.profile} needs real data; set (or prepare and register, docs/data.md):",
              *(f"  {line}" for line in missing), sep="\n", file=sys.stderr)
        raise SystemExit(2)


def with_gpu_count(s: Settings) -> Settings:
    """NPROC unset (or 'gpu'): the GPUs nvidia-smi lists, at least one; the toy profiles run without torchrun."""
    if s.profile in TOY_PROFILES or (s.env.get("NPROC") or "gpu") != "gpu":
        return s
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.splitlines()
    except OSError:
        listed = []
    return replace(s, env={**s.env, "NPROC": str(max(1, len(listed)))})


def parse(argv: list[str] | None, parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    parser = parser or get_args_parser()
    args = parser.parse_args(argv)
    given = [name for name in SLURM_OPTIONS if getattr(args, name) is not None]
    if given and not args.slurm:
        parser.exit(2, f"run_all.sh: --{given[0].replace('_', '-')} needs --slurm\n")
    return args


def print_dry_run(plan: Plan, stages: list[str]) -> None:
    for stage in stages:
        done = " (DONE, would be skipped)" if Path(plan.marker(stage)).exists() else ""
        print(f"## stage {stage}{done}", *plan.commands(stage), sep="\n")


def print_steps(plan: Plan, stages: list[str]) -> None:
    for stage in stages:
        print(f"stage {stage} {plan.marker(stage)} {plan.log(stage)}",
              *(f"run {stage} {command}" for command in plan.commands(stage)), f"done {stage}", sep="\n")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.slurm:
        raise SystemExit("run_all.sh --slurm: the jobs are submitted by python -m synvid.slurm")
    s, stages = settings(args, os.environ), selected_stages(args)
    if args.dry_run:                     # the plan is printed, but a missing input still fails
        print_dry_run(Plan(s), stages)
        check_inputs(s, stages)
        return 0
    check_inputs(s, stages)
    print_steps(Plan(with_gpu_count(s)), stages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
