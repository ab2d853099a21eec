"""The miniature reproduction's report (profile `cpu`, docs/miniature.md): Table 1 and Figure 2 in miniature.

From the finished runs of one profile (`<runs>/finetune/<dataset>/<key>[_seed<s>]`, the same under `linprobe/`,
and `<runs>/pretrain/<set>`), for scratch and the five shape sets M1-M5 of the progression:
- top-1 per seed, mean ± 95% t-interval over every finished seed, and the paper's Table 1 column beside it (for the
  order only: a miniature on toy data is never compared with the paper's numbers);
- Spearman's rho between our order of M1-M5 and the paper's, for fine-tuning and probing separately;
- the effect, paired by seed: mean over M2-M5 minus scratch, and moving minus static circles, each with its
  95% t-interval;
- bars with error bars (Figure 2 in miniature) and the pre-training loss curves;
- the wall time of every run, summed per stage (a run's config.json to its DONE).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
from scipy import stats

from synvid import progression
from synvid.figures import bars, pyplot, save_png
from synvid.provenance import summarize
from synvid.runs import atomic_write_text

DATASET = "toy_actions"                      # synvid.data.toy.make_toy_actions, in the UCF101 layout
SHAPE_SETS = progression.NAMES[:5]            # M1-M5: static circles ... accelerating transforming shapes
MOVING_SETS = SHAPE_SETS[1:]                  # M2-M5
KEYS = ("scratch",) + SHAPE_SETS
JOBS = {"finetune": "ucf101_finetune", "linprobe": "ucf101_linprobe"}   # our stage -> the paper's Table 1 column
# the effect the miniature must show (docs/miniature.md): M2-M5 mean minus scratch, in top-1 points, per job
EFFECT_BAR = {"finetune": 10.0, "linprobe": 5.0}
DISCLAIMER = ("A miniature on toy data (profile `cpu`): a tiny ViT, small clips, a synthetic action set. Its "
              "numbers are never paper numbers; the paper's column stands beside them for the order only. The "
              "protocol is fixed in synvid/profiles.py before measuring and is the same for every pre-training set.")
_SEED = re.compile(r"^(?P<key>.+?)(_seed(?P<seed>\d+))?$")


def t_interval(values) -> tuple[float, float, int]:
    """provenance.summarize with nan for a missing mean or half-width (fewer than two values)."""
    mean, half, n = summarize([float(v) for v in values])
    return (math.nan if mean is None else mean), (math.nan if half is None else half), n


def spearman(ours: list[float], paper: list[float]) -> float:
    """Spearman's rho of two orders (nan when either is constant or has a missing value)."""
    if len(ours) < 2 or any(math.isnan(v) for v in ours) or len(set(ours)) < 2:
        return math.nan
    return float(stats.spearmanr(ours, paper).statistic)


def finished_runs(folder: Path) -> dict[str, dict[int, float]]:
    """{key: {seed: top-1}} of every finished run (DONE) under `folder` (`<key>` is seed 0, `<key>_seed<s>`)."""
    out: dict[str, dict[int, float]] = {}
    for done in sorted(folder.glob("*/DONE")):
        match = _SEED.match(done.parent.name)
        results = json.loads((done.parent / "results.json").read_text())
        seed = int(match["seed"] or 0)
        if results.get("seed", seed) != seed:
            continue                      # a run directory renamed by hand: its name no longer says its seed
        out.setdefault(match["key"], {})[seed] = float(results["top1"])
    return out


def paired(after: dict[str, dict[int, float]], names, before: dict[int, float]) -> tuple[float, float, int]:
    """Mean over `names` minus `before`, per seed that all of them finished; its t-interval over those seeds."""
    seeds = sorted(set(before).intersection(*(after.get(n, {}) for n in names)))
    return t_interval(np.mean([after[n][s] for n in names]) - before[s] for s in seeds)


def reported_column(reported: list[dict], column: str) -> dict[str, float]:
    return {r["dataset"]: r["value"] for r in reported if r["table"] == "table1" and r["column"] == column}


def _fmt(mean: float, half: float, n: int) -> str:
    if n == 0:
        return "—"
    return f"{mean:.1f}" if math.isnan(half) else f"{mean:.1f} ± {half:.1f}"


def _clip_setting(cfg: dict) -> str:
    return f"{cfg['model']}, {cfg['input_size']}² input, {cfg['num_frames']} frames at stride {cfg['sampling_rate']}"


def setting(runs: Path, stage: str, dataset: str) -> str:
    """'model, input size², frames x stride' of the first finished run of `stage` (for captions): its
    FinetuneConfig, which a probe's config.json holds too (the settings it trained with)."""
    for config in sorted((runs / stage / dataset).glob("*/config.json")):
        return _clip_setting(json.loads(config.read_text())["FinetuneConfig"])
    return "no finished run"


def run_minutes(folders) -> float:
    """Wall minutes of finished runs: each run's config.json (written before any work) to its DONE."""
    total = 0.0
    for run in folders:
        if (run / "DONE").is_file() and (run / "config.json").is_file():
            total += (run / "DONE").stat().st_mtime - (run / "config.json").stat().st_mtime
    return total / 60


def collect(runs: str | Path, dataset: str, reported: list[dict]) -> dict:
    """Every number of the report, from the finished runs under `runs`."""
    runs = Path(runs)
    summary = {"dataset": dataset, "jobs": {}, "minutes": {},
               "labels": {r["dataset"]: r["row"] for r in reported if r["table"] == "table1"}}
    for job, column in JOBS.items():
        found = finished_runs(runs / job / dataset)
        paper = reported_column(reported, column)
        cells = {key: t_interval(found.get(key, {}).values()) for key in KEYS}
        summary["jobs"][job] = {
            "per_seed": {key: found.get(key, {}) for key in KEYS},
            "cells": cells, "paper": {key: paper.get(key, math.nan) for key in KEYS},
            "spearman": spearman([cells[k][0] for k in SHAPE_SETS], [paper.get(k, math.nan) for k in SHAPE_SETS]),
            "moving_minus_scratch": paired(found, MOVING_SETS, found.get("scratch", {})),
            "moving_minus_static": paired(found, ("moving_circles",), found.get("static_circles", {})),
            "setting": setting(runs, job, dataset)}
        summary["minutes"][job] = run_minutes(p.parent for p in (runs / job / dataset).glob("*/config.json"))
    summary["minutes"]["pretrain"] = run_minutes(runs / "pretrain" / s for s in SHAPE_SETS)
    summary["pretrain_setting"] = pretrain_setting(runs)
    return summary


def pretrain_setting(runs: Path) -> str:
    for name in SHAPE_SETS:
        config = runs / "pretrain" / name / "config.json"
        if config.is_file():
            cfg = json.loads(config.read_text())["PretrainConfig"]
            return (f"{_clip_setting(cfg)}, mask {cfg['mask_ratio']}, {cfg['epochs']} epochs of batch "
                    f"{cfg['batch_size']}")
    return "no pre-training run"


def table_markdown(summary: dict) -> str:
    """Table 1 in miniature: a row per init; per job our mean ± interval (n) and the paper's column."""
    head = "| pre-training | " + " | ".join(f"{job} top-1 (ours) | n | paper {JOBS[job]}" for job in JOBS) + " |"
    lines = [head, "|" + "---|" * (1 + 3 * len(JOBS))]
    for key in KEYS:
        cells = []
        for job in JOBS:
            data = summary["jobs"][job]
            mean, half, n = data["cells"][key]
            cells += [_fmt(mean, half, n), str(n), f"{data['paper'][key]:.1f}"]
        lines.append(f"| {summary['labels'].get(key, key)} | " + " | ".join(cells) + " |")
    lines += ["", "| | " + " | ".join(JOBS) + " |", "|---|" + "---|" * len(JOBS)]
    for name, field in (("M2-M5 mean − scratch (paired by seed)", "moving_minus_scratch"),
                        ("moving − static circles (paired by seed)", "moving_minus_static")):
        values = [summary["jobs"][job][field] for job in JOBS]
        lines.append(f"| {name} | " + " | ".join(f"{_fmt(*v)} (n={v[2]})" for v in values) + " |")
    rhos = [summary["jobs"][job]["spearman"] for job in JOBS]
    lines.append("| Spearman rho, M1-M5 order vs the paper's | "
                 + " | ".join("—" if math.isnan(rho) else f"{rho:.2f}" for rho in rhos) + " |")
    return "\n".join(lines) + "\n"


def figures(summary: dict, runs: str | Path, folder: str | Path) -> list[Path]:
    """figures/miniature_fig2.png (bars, 95% t-interval error bars) and miniature_pretrain_loss.png."""
    plt, folder, written = pyplot(), Path(folder), []
    labels = [summary["labels"].get(k, k) for k in KEYS]
    fig, axes = plt.subplots(1, len(JOBS), figsize=(5 * len(JOBS), 4.5), squeeze=False)
    for ax, job in zip(axes[0], JOBS):
        cells = summary["jobs"][job]["cells"]
        bars(ax, labels, {"ours (miniature)": ([cells[k][0] for k in KEYS],
                                                [0.0 if math.isnan(cells[k][1]) else cells[k][1] for k in KEYS])})
        ax.set_title(f"{job}: {summary['jobs'][job]['setting']}", fontsize=8)
    fig.suptitle(f"Figure 2 in miniature on {summary['dataset']} (toy data, never paper numbers; "
                 "error bars: 95% t-interval over seeds)", fontsize=9)
    fig.tight_layout()
    written.append(save_png(fig, folder / "miniature_fig2.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in SHAPE_SETS:
        log = Path(runs) / "pretrain" / name / "log.jsonl"
        if log.is_file():
            rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
            steps, losses = [r["step"] for r in rows], np.array([r["loss"] for r in rows])
            window = max(1, len(losses) // 50)          # a running mean: single steps are noisy at batch 32
            smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
            ax.plot(steps[window - 1:], smooth, label=summary["labels"].get(name, name))
    ax.set_xlabel("step")
    ax.set_ylabel("normalised-pixel MSE (masked tokens)")
    ax.set_title(f"pre-training loss: {summary['pretrain_setting']}", fontsize=7)
    if ax.lines:
        ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(save_png(fig, folder / "miniature_pretrain_loss.png"))
    return written


def effect_line(job: str, mean: float, half: float, n: int) -> str:
    """The effect of one job against its bar; the unrounded mean decides (4.97 is short of 5)."""
    if n < 2:
        return f"- {job}: not measured (scratch and all of M2-M5 finished for {n} seed(s); 2 needed)."
    above = mean - half > 0
    bar = "met" if mean >= EFFECT_BAR[job] and above else "not met"
    return (f"- {job}: pre-training on moving shapes (mean of M2-M5) minus scratch = {_fmt(mean, half, n)} top-1 "
            f"points ({mean:.2f}), paired over {n} seeds; the 95% interval is {'above' if above else 'not above'} 0; "
            f"the bar of ≥ {EFFECT_BAR[job]:g} points with the interval above 0 is {bar}.")


def report_markdown(summary: dict, stamp: str) -> str:
    jobs, minutes = summary["jobs"], summary["minutes"]
    effect = {job: jobs[job]["moving_minus_scratch"] for job in JOBS}
    lines = [f"# Miniature reproduction (profile cpu) on {summary['dataset']}", "", stamp, "", f"> {DISCLAIMER}", "",
             "## Table 1 in miniature", "",
             f"Fine-tuning: {jobs['finetune']['setting']}. Linear probe: {jobs['linprobe']['setting']}. "
             f"Pre-training: {summary['pretrain_setting']}. Cells: mean ± 95% t-interval over the n finished "
             "seeds.", "", table_markdown(summary),
             "## The effect", ""]
    lines += [effect_line(job, *effect[job]) for job in JOBS]
    lines += ["", "## Figure 2 in miniature and the pre-training losses", "",
              "![Figure 2 in miniature](figures/miniature_fig2.png)", "",
              "![pre-training loss](figures/miniature_pretrain_loss.png)", "",
              "## Time (wall minutes of the finished runs, each from its config.json to its DONE)", "",
              "| pre-training (5 sets) | fine-tuning | linear probing |", "|---|---|---|",
              f"| {minutes['pretrain']:.1f} | {minutes['finetune']:.1f} | {minutes['linprobe']:.1f} |", ""]
    return "\n".join(lines)


def write(runs: str | Path, out: str | Path, *, dataset: str, reported: list[dict], stamp: str,
          figures_too: bool = True) -> dict:
    """<out>/REPORT.md, <out>/tables/miniature_table1.md, <out>/summary.json and the two figures."""
    out = Path(out)
    summary = collect(runs, dataset, reported)
    atomic_write_text(out / "tables" / "miniature_table1.md", table_markdown(summary))
    if figures_too:
        figures(summary, runs, out / "figures")
    atomic_write_text(out / "REPORT.md", report_markdown(summary, stamp))
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary
