"""paper_tables: reported.csv, provenance of result records, seed intervals, reasons in empty cells and the report,
with golden files (DomainBed test_collect_results style: fabricated run folders -> exact expected text)."""
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats as scipy_stats

from synvid import provenance, report, tables

ROOT = Path(__file__).resolve().parent.parent
CROPS = "accelerating_transforming_image_crops"


def _write(folder: Path, name: str, obj: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(obj))


def _pretrain_run(folder: Path, dataset: str, **extra) -> Path:
    _write(folder, "config.json", {"PretrainConfig": {"model": "pretrain_videomae_tiny_patch16_224"},
                                   "dataset": dataset, **extra})
    _write(folder, "DONE", {"steps": 4})                                # not a downstream result: no record
    return folder


def _finetune_run(folder: Path, top1: float, init: str, dataset: str = "k400", seed: int = 0,
                  model: str = "vit_tiny_patch16_224", profile: str = "smoke", done: dict | None = None,
                  **extra) -> None:
    """The layout synvid.engine.finetune writes: config.json (FinetuneConfig + extras) and DONE (results)."""
    _write(folder, "config.json", {"FinetuneConfig": {"model": model, "seed": seed}, "dataset": dataset,
                                   "init": init, "profile": profile, **extra})
    _write(folder, "DONE", {"top1": top1, "top5": 99.0, "dataset": dataset, **(done or {})})


@pytest.fixture
def k400_runs(tmp_path):
    """Table 4 runs: scratch, three seeds of image crops (one with skipped test videos), one repeated seed, one
    run with an override, an official checkpoint filed by hand, and an unfinished run."""
    runs = tmp_path / "runs"
    pre = _pretrain_run(runs / "pretrain" / CROPS, CROPS)
    ckpt = "runs/pretrain/accelerating_transforming_image_crops/last.pth"   # relative to the launch directory
    ft = runs / "finetune" / "k400"
    _finetune_run(ft / "scratch", 60.0, "scratch")
    _finetune_run(ft / "crops", 75.0, ckpt)
    _finetune_run(ft / "crops_seed1", 76.0, ckpt, seed=1, done={"test_listed": 100, "test_evaluated": 98})
    _finetune_run(ft / "crops_seed2", 77.5, str(pre / "last.pth"), seed=2)
    _finetune_run(ft / "crops_seed2_again", 90.0, str(pre / "last.pth"), seed=2)   # same seed: refused
    _finetune_run(ft / "crops_lr", 79.0, ckpt, seed=3, overrides={"base_lr": 0.002})
    _finetune_run(ft / "official", 80.0, "/ckpt/official.pth", pretrain_dataset="k400")
    _write(ft / "unfinished", "config.json", {"FinetuneConfig": {}, "init": "scratch"})
    return runs


# mean of 75.0, 76.0, 77.5 = 76.17; t(0.975, 2) * sd / sqrt(3) = 4.303 * 1.258 / 1.732 = 3.13
GOLDEN_TABLE4 = """\
**Table 4: Kinetics-400** (toy/smoke — not paper results)

| Pre-training                              | key                                     | k400_finetune paper   | k400_finetune ours          | k400_finetune ours − paper   |
|-------------------------------------------|-----------------------------------------|-----------------------|-----------------------------|------------------------------|
| Scratch                                   | `scratch`                               | 68.8                  | 60.0 (n=1)                  | -8.8                         |
| Accelerating and transforming image crops | `accelerating_transforming_image_crops` | 79.1                  | 76.2 ± 3.1 (n=3) [98/100] † | -2.9                         |
| Kinetics-400                              | `k400`                                  | 80.7                  | 80.0 (n=1)                  | -0.7                         |

Runs with overrides (not averaged in):

- † `accelerating_transforming_image_crops` k400_finetune: 79.0 — `RUNS/finetune/k400/crops_lr`, overrides {'base_lr': 0.002}
"""

GOLDEN_GAPS = """\
**Gap closed, % = (ours − scratch) / (reference − scratch)** (toy/smoke — not paper results)

| Claim                                         | paper text   | from paper tables   | ours                                                                                |
|-----------------------------------------------|--------------|---------------------|-------------------------------------------------------------------------------------|
| UCF101 fine-tune gap closed by StyleGAN crops | 97.2         | 97.2                | — (no `accelerating_transforming_stylegan`, `scratch`, `ucf101` ucf101_finetune)    |
| K400 gap closed by image crops                | 86.5         | 86.6                | 80.8                                                                                |
| UCF101 linear-probe gap closed by image crops | 40.6         | 40.7                | — (no `accelerating_transforming_image_crops`, `scratch`, `ucf101` ucf101_linprobe) |
"""


def _read(path: Path, runs: Path) -> str:
    return path.read_text().replace(str(runs), "RUNS")


def test_golden_table4_seeds_overrides_and_refusals(k400_runs, tmp_path):
    summary = report.write_all(k400_runs, tmp_path / "out", profile="smoke", figures=False, header="H")
    table4 = _read(tmp_path / "out/tables/table4.md", k400_runs)
    assert table4 == GOLDEN_TABLE4 + f"\n{tables.LEGEND}\n"
    assert (tmp_path / "out/tables/gaps.md").read_text() == GOLDEN_GAPS
    assert summary["records"] == 5
    (problem,) = summary["problems"]
    assert "crops_seed2_again: repeats" in problem and "same seed 2" in problem
    assert "crops_seed2_again" in (tmp_path / "out/tables/problems.md").read_text()


def test_interval_is_the_t_interval():
    values = [75.0, 76.0, 77.5]
    mean, half, n = provenance.summarize(values)
    low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=mean, scale=scipy_stats.sem(values))
    assert n == 3 and mean == pytest.approx(sum(values) / 3) and half == pytest.approx((high - low) / 2)
    assert provenance.summarize([70.0]) == (70.0, None, 1) and provenance.summarize([]) == (None, None, 0)


def _paper_runs(runs: Path) -> None:
    """One accepted ViT-B run per refusal reason, and the refused ones."""
    pre = _pretrain_run(runs / "pretrain" / "moving_circles", "moving_circles")
    init = str(pre / "last.pth")
    ucf = runs / "finetune" / "ucf101"
    _finetune_run(ucf / "base", 80.0, init, dataset="ucf101", model="vit_base_patch16_224", profile="paper")
    _finetune_run(ucf / "large", 90.0, init, dataset="ucf101", model="vit_large_patch16_224", profile="paper",
                  overrides={"model": "vit_large_patch16_224", "batch_size": 128})  # Fig. 2 ViT-L series
    _finetune_run(ucf / "small", 70.0, init, dataset="ucf101", model="vit_small_patch16_224", profile="paper")
    _finetune_run(ucf / "toy", 99.0, init, dataset="toy_ucf101", model="vit_base_patch16_224", profile="paper")
    _finetune_run(ucf / "mini", 60.0, init, dataset="ucf101", model="vit_base_patch16_224", profile="mini")
    _finetune_run(ucf / "ssv2", 60.0, init, dataset="ssv2", model="vit_base_patch16_224", profile="paper")
    probe = runs / "linprobe" / "ucf101" / "other_mode"
    _write(probe, "config.json", {"LinprobeConfig": {"cache_features": True},
                                  "FinetuneConfig": {"model": "vit_base_patch16_224"}, "dataset": "ucf101",
                                  "init": init, "profile": "paper"})
    _write(probe, "DONE", {"top1": 20.0})
    # written by hand in the documented format: explicit pretrain_dataset and model, nothing else inferred
    _write(runs / "by_hand", "DONE", {"task": "finetune", "dataset": "hmdb51", "pretrain_dataset": "moving_circles",
                                      "model": "vit_base_patch16_224", "profile": "paper", "top1": 50.0})


def test_provenance_keeps_only_the_tables_runs(tmp_path):
    runs = tmp_path / "runs"
    _paper_runs(runs)
    summary = report.write_all(runs, tmp_path / "out", profile="paper", figures=False, header="H")
    problems = (tmp_path / "out/tables/problems.md").read_text()
    expected = {"small": "(ViT-small); the paper tables are ViT-base", "toy": "toy data (toy_ucf101) never enters",
                "mini": "profile 'mini'", "ssv2": "no table has the column ssv2_finetune",
                "other_mode": "probe_mode 'cached'; the paper profile's probe is 'finetune_aug'"}
    assert len(summary["problems"]) == len(expected)
    for run, reason in expected.items():
        assert any(f"/{run}: " in p and reason in p for p in summary["problems"]), (run, problems)
    table1 = (tmp_path / "out/tables/table1.md").read_text()
    row = next(line for line in table1.splitlines() if "`moving_circles`" in line)
    assert "| 80.0 (n=1) " in row and "| 50.0 (n=1) " in row          # ViT-B fine-tune and the hand-written record
    assert "99.0" not in table1 and "90.0" not in table1                # toy and ViT-L stay out of Table 1
    assert "runs refused, see problems.md" in row                       # the probe cell: its only run was refused
    vit_l = (tmp_path / "out/tables/fig2_vitl.md").read_text()
    assert re.search(r"`moving_circles` \| ucf101_finetune \| videomae +\| 90.0 \(n=1\)", vit_l)


def test_paths_resolve_from_any_directory_and_after_moving_runs(k400_runs, tmp_path):
    moved = tmp_path / "elsewhere" / "archive" / "runs"
    moved.parent.mkdir(parents=True)
    shutil.move(str(k400_runs), str(moved))
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path / "elsewhere")
        records, problems = provenance.collect_records(Path("archive/runs").resolve())
    finally:
        os.chdir(cwd)
    assert problems == []
    keys = sorted(r["pretrain_dataset"] for r in records)
    assert keys == ["accelerating_transforming_image_crops"] * 5 + ["k400", "scratch"]
    assert all(r["upstream"] is None or r["upstream"].startswith(str(moved)) for r in records)


def test_upstream_field_is_relative_to_the_recording_run(tmp_path):
    runs = tmp_path / "runs"
    _pretrain_run(runs / "pretrain" / "x", "moving_shapes", objective="vjepa")
    _finetune_run(runs / "finetune" / "a", 70.0, "/gone/last.pth", dataset="ucf101",
                  done={"upstream": {"run": "../../pretrain/x", "step": 4, "config_hash": "h"}})
    rec = provenance.record_from_run(runs / "finetune" / "a")
    assert (rec["pretrain_dataset"], rec["objective"]) == ("moving_shapes", "vjepa")


def test_other_objectives_get_their_own_column_group(tmp_path):
    runs = tmp_path / "runs"
    _pretrain_run(runs / "pretrain" / "mae", "moving_shapes")
    _pretrain_run(runs / "pretrain" / "jepa", "moving_shapes", objective="vjepa")
    _finetune_run(runs / "ft" / "mae", 70.0, str(runs / "pretrain/mae/last.pth"), dataset="ucf101")
    _finetune_run(runs / "ft" / "jepa", 72.0, str(runs / "pretrain/jepa/last.pth"), dataset="ucf101")
    report.write_all(runs, tmp_path / "out", profile="smoke", figures=False, header="H")
    table1 = (tmp_path / "out/tables/table1.md").read_text()
    header = table1.splitlines()[2]
    assert "ucf101_finetune ours V-JEPA" in header and "ucf101_finetune ours − paper V-JEPA" in header
    row = next(line for line in table1.splitlines() if "`moving_shapes`" in line)
    assert "| 70.0 (n=1) " in row and "| 72.0 (n=1) " in row and "| -16.9 " in row and "| -14.9 " in row


def test_empty_cells_say_why(tmp_path):
    ctx = tables.Context(tables.read_reported(), provenance.Selection(), provenance.Expected.of("paper"),
                         planned={"ucf101_finetune:moving_circles"})
    why = {(c, k): tables.empty_reason(ctx, ctx.key(c, k)) for c, k in (
        ("ucf101_finetune", "moving_circles"), ("ucf101_finetune", "images_300k"), ("k400_finetune", "scratch"),
        ("k400_finetune", "k400"), ("ucf101_linprobe", "ucf101"), ("hmdb51_finetune", "moving_shapes"))}
    assert why == {("ucf101_finetune", "moving_circles"): "launched, not finished yet",
                   ("ucf101_finetune", "images_300k"): "needs --ablations",
                   ("k400_finetune", "scratch"): "needs K400_ROOT",
                   ("k400_finetune", "k400"): "needs K400_ROOT and VIDEOMAE_K400_CKPT",
                   ("ucf101_linprobe", "ucf101"): "needs VIDEOMAE_UCF101_CKPT (official checkpoint)",
                   ("hmdb51_finetune", "moving_shapes"): "not run"}


def test_reported_csv_parses_and_covers_the_tables():
    rows = tables.read_reported()
    assert {r["table"] for r in rows} >= set(tables.TABLES) | {"fig3", "fig4", "text"}
    keys = [(r["table"], r["row"], r["column"]) for r in rows]
    assert len(keys) == len(set(keys)), "a reported number is transcribed twice"
    assert sum(r["table"] == "table1" for r in rows) == 30                 # 10 rows x 3 columns
    value = {(r["table"], r["dataset"], r["column"]): r["value"] for r in rows}
    assert value[("table1", "ucf101", "ucf101_linprobe")] == 48.0
    assert value[("table12", "images_1300k_saturated", "ucf101_finetune")] == 89.8
    for r in rows:                                                        # registry-style keys only
        assert r["dataset"].replace("_", "").isalnum() and r["dataset"].islower(), r


def test_progression_keys_exist_in_registry():
    from synvid import progression
    used = [r["dataset"] for r in tables.read_reported() if r["table"] == "table1"]
    baselines = {"scratch", "ucf101"}
    assert [k for k in dict.fromkeys(used) if k not in baselines] == list(progression.NAMES)
    slow = {r["dataset"] for r in tables.read_reported() if r["table"] == "table9"}
    assert len(slow) == 5 and slow <= set(progression.DATASETS), slow - set(progression.DATASETS)   # M2-M6 x 0.5


def test_gap_arithmetic():
    assert tables.gap_closed(79.1, 68.8, 80.7) == 86.6                    # PROTOCOLS Q2 (§9.1 value)
    assert tables.gap_closed(90.2, 51.4, 91.3) == 97.2                    # abstract
    assert tables.gap_closed(24.8, 8.9, 48.0) == 40.7                     # §4.3 prints 40.6 (truncated)
    with pytest.raises(ValueError, match="no gap"):
        tables.gap_closed(50.0, 40.0, 40.0)


def test_record_inference_and_problems(tmp_path):
    probe = tmp_path / "linprobe" / "run"
    _write(probe, "config.json", {"LinprobeConfig": {"cache_features": True},
                                  "FinetuneConfig": {"model": "vit_tiny_patch16_224"}, "dataset": "toy_ucf101",
                                  "init": "scratch", "profile": "smoke"})
    _write(probe, "DONE", {"top1": 12.5, "num_videos": 8, "skipped_videos": 1})
    rec = provenance.record_from_run(probe)
    assert (rec["task"], rec["dataset"], rec["toy"], rec["pretrain_dataset"], rec["model"], rec["probe_mode"]) == \
        ("linprobe", "ucf101", True, "scratch", "vit_tiny_patch16_224", "cached")
    assert (rec["test_listed"], rec["test_evaluated"], rec["objective"], rec["overrides"]) == (9, 8, "videomae", {})
    _finetune_run(tmp_path / "finetune" / "orphan", 10.0, "/nowhere/official.pth")
    records, problems = provenance.collect_records(tmp_path)
    assert len(records) == 1 and len(problems) == 1 and "pretrain_dataset" in problems[0]


def _context(runs: Path, profile: str = "paper", planned=None) -> tables.Context:
    records, _ = provenance.collect_records(runs)
    selection = provenance.select(records, provenance.Expected.of(profile), tables.COLUMNS)
    return tables.Context(tables.read_reported(), selection, provenance.Expected.of(profile), planned)


def test_ucf101p_wins_and_pearson(tmp_path):
    for key, acc in (("ucf101", [50.0, 60.0, 70.0]), (CROPS, [55.0, 50.0, 71.0])):
        _write(tmp_path / key, "DONE", {"task": "ucf101p", "pretrain_dataset": key, "profile": "paper",
                                        "model": "vit_base_patch16_224", "dataset": "ucf101",
                                        "corruptions": dict(zip(("a", "b", "c"), acc))})
    text = tables.ucf101p_markdown(_context(tmp_path))
    assert "| Image crops beats UCF101 pre-training    | 11/14   | 2/3 " in text
    for key, acc in (("ucf101", 40.0), (CROPS, 45.0)):   # glass_blur: the 14th corruption only
        _write(tmp_path / key, "DONE", {"task": "ucf101p", "pretrain_dataset": key, "profile": "paper",
                                        "model": "vit_base_patch16_224", "dataset": "ucf101",
                                        "corruptions": {"jpeg": 50.0, "glass_blur": acc}})
    text = tables.ucf101p_markdown(_context(tmp_path))
    assert "| 1/2 (0/1 UCF101-P sets) " in text
    for seed in (0, 1):   # two fine-tuning seeds evaluated with one corruption seed: two results, none refused
        run = tmp_path / "more" / f"ft{seed}"
        _write(run, "config.json", {"RobustnessConfig": {}, "run": f"runs/finetune/crops_seed{seed}",
                                    "profile": "paper"})
        _write(run, "DONE", {"task": "ucf101p", "pretrain_dataset": CROPS, "model": "vit_base_patch16_224",
                             "dataset": "ucf101", "seed": 0, "corruptions": {"jpeg": 50.0}})
    assert len(_context(tmp_path).selection.ucf101p) == 4 and _context(tmp_path).selection.refused == []
    assert tables.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert tables.pearson([1, 2], [1, 2]) is None and tables.pearson([1, 1, 1], [1, 2, 3]) is None
    assert math.isclose(tables.pearson([1, 2, 3, 4], [4, 3, 2, 1]), -1.0)


def test_analysis_ucf101p_and_materialised_runs_become_records(tmp_path):
    """What analysis/5_3-5_4, finetune/4_2_eval_ucf101p.py and a --list pre-training write is read as records."""
    runs = tmp_path / "runs"
    stats = runs / "analysis" / "stats"
    _write(stats, "config.json", {"StatsConfig": {}, "stats": ["fid", "color"], "profile": "smoke"})
    _write(stats, "DONE", {"moving_circles": {"fid": {"fid": 120.0}, "color": {"color_kl_sym_sum": 3.5}},
                           "runs/ucf/trainlist01.txt": {"color": {"color_kl_sym_sum": 0.0}}})
    _write(runs / "analysis" / "fig5", "config.json", {"StatsConfig": {}, "checkpoints": ["a.pth"]})
    _write(runs / "analysis" / "fig5", "DONE", {})                      # Fig. 5 is not a result record
    data = runs / "data" / "accelerating_transforming_stylegan"
    _write(data, "config.json", {"RenderConfig": {}, "dataset": "accelerating_transforming_stylegan"})
    pre = runs / "pretrain" / "stylegan"
    _write(pre, "config.json", {"PretrainConfig": {}, "dataset": None,
                                "list": "runs/data/accelerating_transforming_stylegan/train.csv"})
    _finetune_run(runs / "finetune" / "sg", 70.0, str(pre / "last.pth"), dataset="toy_ucf101")
    _write(runs / "ucf101p" / "data", "config.json", {"RobustnessConfig": {}, "data_root": "x"})
    _write(runs / "ucf101p" / "data", "DONE", {"corruptions": ["jpeg"]})   # the corrupted copies: no record
    ev = runs / "ucf101p" / "eval" / "sg"
    _write(ev, "config.json", {"RobustnessConfig": {}, "run": str(runs / "finetune" / "sg"), "profile": "smoke"})
    _write(ev, "DONE", {"wins": {}, "task": "ucf101p", "corruptions": {"jpeg": 50.0}, "model": "vit_tiny_patch16_224",
                        "pretrain_dataset": "accelerating_transforming_stylegan", "dataset": "toy_ucf101"})
    records, problems = provenance.collect_records(runs)
    assert problems == []
    by_task = {}
    for r in records:
        by_task.setdefault(r["task"], []).append(r)
    assert {r["pretrain_dataset"]: r["metrics"] for r in by_task["stats"]} == {
        "moving_circles": {"fid": 120.0, "color_kl": 3.5}, "trainlist01": {"color_kl": 0.0}}
    assert [r["pretrain_dataset"] for r in by_task["finetune"]] == ["accelerating_transforming_stylegan"]
    (p,) = by_task["ucf101p"]
    assert (p["pretrain_dataset"], p["dataset"], p["toy"], p["corruptions"]) == (
        "accelerating_transforming_stylegan", "ucf101", True, {"jpeg": 50.0})


def _fig4_runs(runs: Path) -> None:
    """Statistics and UCF101 fine-tunes of a progression set and two ablation sets (Fig. 4 covers all three)."""
    fid = {"moving_circles": 200.0, "images_300k": 150.0, "statistical_saturated": 100.0}
    alpha = {"moving_circles": 2.0, "images_300k": 1.5, "statistical_saturated": 1.3}
    _write(runs / "stats", "config.json", {"StatsConfig": {}, "stats": ["fid", "spectrum"], "profile": "smoke"})
    _write(runs / "stats", "DONE", {k: {"fid": {"fid": v}, "spectrum": {"alpha_mean": alpha[k]}}
                                    for k, v in fid.items()})
    for k, acc in zip(fid, (60.0, 70.0, 80.0)):                   # accuracy falls as FID grows: r = -1
        pre = _pretrain_run(runs / "pretrain" / k, k)
        _finetune_run(runs / "finetune" / k, acc, str(pre / "last.pth"), dataset="toy_ucf101")


def test_fig4_over_every_set_with_n_and_the_spectrum_claim(tmp_path):
    runs = tmp_path / "runs"
    _fig4_runs(runs)
    text = tables.fig4_markdown(_context(runs, "smoke"))
    assert re.search(r"\| fid +\| r = -0\.72 +\| r = -1\.00 +\| 3 ", text)
    assert "n (paper: 28 sets)" in text
    assert re.search(r"best datasets have α in \[1\.2, 1\.4\] \| α = 1\.30 for `statistical_saturated` \(inside\)",
                     text)


def test_vjepa_runs_get_their_own_column_group_and_never_mix(k400_runs, tmp_path):
    """A fine-tune fed by a V-JEPA pre-training is recorded with objective 'vjepa' (from the upstream
    config.json) and shown in an `ours V-JEPA` column group, not averaged into VideoMAE's `ours`."""
    pre = k400_runs / "pretrain_vjepa" / "accelerating_transforming_image_crops"
    _write(pre, "config.json", {"PretrainConfig": {"objective": "vjepa"}, "objective": "vjepa",
                                "dataset": "accelerating_transforming_image_crops"})
    _finetune_run(k400_runs / "finetune_vjepa" / "k400" / "crops", 70.0, str(pre / "last.pth"))
    rec = provenance.record_from_run(k400_runs / "finetune_vjepa" / "k400" / "crops")
    assert rec["objective"] == "vjepa" and rec["pretrain_dataset"] == "accelerating_transforming_image_crops"
    assert provenance.record_from_run(k400_runs / "finetune" / "k400" / "crops")["objective"] == "videomae"
    report.write_all(k400_runs, tmp_path / "out", profile="smoke", header="H")
    lines = (tmp_path / "out/tables/table4.md").read_text().splitlines()
    assert [c.strip() for c in lines[2].split("|")[-3:-1]] == ["k400_finetune ours V-JEPA",
                                                               "k400_finetune ours − paper V-JEPA"]
    crops = next(line for line in lines if "`accelerating_transforming_image_crops`" in line)
    assert [c.strip() for c in crops.split("|")[3:8]] == ["79.1", "76.2 ± 3.1 (n=3) [98/100] †", "-2.9",
                                                          "70.0 (n=1)", "-9.1"]
    scratch = next(line for line in lines if "`scratch`" in line)
    assert scratch.split("|")[-3].strip() == "60.0 (n=1)"   # scratch has no pre-training: the same for every objective
    assert (tmp_path / "out/figures/fig2_progression.png").stat().st_size > 0


def test_fig4_leaves_out_a_singular_diversity(tmp_path):
    # A static set's covariance is singular (log-det -inf, metrics.covariance_log_det): no point in a Pearson r.
    runs = tmp_path / "runs"
    div = {"static_circles": float("-inf"), "moving_circles": 1.0, "moving_shapes": 2.0,
           "accelerating_transforming_shapes": 3.0}
    _write(runs / "stats", "config.json", {"StatsConfig": {}, "stats": ["diversity"], "profile": "smoke"})
    _write(runs / "stats", "DONE", {k: {"diversity": {"log_det_diversity": v}} for k, v in div.items()})
    for k, acc in zip(div, (10.0, 60.0, 70.0, 80.0)):
        pre = _pretrain_run(runs / "pretrain" / k, k)
        _finetune_run(runs / "finetune" / k, acc, str(pre / "last.pth"), dataset="toy_ucf101")
    text = tables.fig4_markdown(_context(runs, "smoke"))
    row = next(line for line in text.splitlines() if line.startswith("| diversity"))
    assert row.split("|")[3].strip() == "r = 1.00" and row.split("|")[4].strip() == "3"


def test_report_in_paper_order_with_every_linked_image(tmp_path):
    runs = tmp_path / "runs"
    _fig4_runs(runs)
    grid = runs / "figures" / "fig1_samples"                     # what 3_1_sample_grid.py leaves
    _write(grid, "DONE", {"png": "figure1_grid.png"})
    shutil.copyfile(ROOT / "tests" / "test_tables.py", grid / "figure1_grid.png")   # any bytes: it is only copied
    for key, acc in (("ucf101", [50.0, 60.0]), ("moving_circles", [55.0, 58.0])):
        _write(runs / "p" / key, "DONE", {"task": "ucf101p", "pretrain_dataset": key, "profile": "smoke",
                                          "model": "vit_tiny_patch16_224", "dataset": "toy_ucf101",
                                          "corruptions": dict(zip(("jpeg", "blur"), acc))})
    out = tmp_path / "results" / "smoke"
    report.write_all(runs, out, profile="smoke", header="commit `abc` · 2026-01-01 00:00 UTC")
    text = (out / "REPORT.md").read_text()
    assert text.startswith("# synvid results: profile `smoke`\n\nProfile `smoke` · commit `abc` · 2026-01-01")
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == [h for h, _, _ in report.SECTIONS]
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert {Path(i).name for i in images} == {"fig1_samples.png", "fig2_progression.png", "fig3_ucf101p.png",
                                              "fig4_correlations.png"}
    for image in images:
        assert (out / image).stat().st_size > 0 and image.startswith("figures/")
    assert "figure not drawn: needs stage analysis (5_5_visualize_features.py)" in text    # Fig. 5: no run
    for name in tables.TABLES:                                           # every table is in the report
        assert tables.TABLES[name].title in text
    assert text.count(tables.LEGEND) == 1


def test_stamp_names_the_commit_and_date():
    assert re.fullmatch(r"commit `[^`]+`( \(uncommitted changes\))? · \d{4}-\d\d-\d\d \d\d:\d\d UTC", report.stamp())


@pytest.mark.slow
def test_cli_from_another_directory_writes_report(k400_runs, tmp_path):
    out = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "paper_tables/make_tables.py"), "--profile", "smoke",
                           "--runs", "runs", "--out", str(out), "--planned", "ucf101_finetune:scratch"],
                          cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _read(out / "tables/table4.md", k400_runs.resolve()).startswith(GOLDEN_TABLE4.split("| Scratch")[0])
    assert "76.2 ± 3.1 (n=3)" in (out / "REPORT.md").read_text()
    assert (out / "figures/fig2_progression.png").stat().st_size > 1000
    assert "refused run" in proc.stderr
    bad = subprocess.run([sys.executable, "paper_tables/make_tables.py", "--runs", str(tmp_path / "none"),
                          "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "is not a folder" in bad.stderr
