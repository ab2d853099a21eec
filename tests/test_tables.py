"""paper_tables: reported.csv, result records, gap arithmetic, and a golden markdown test (DomainBed
test_collect_results style: fabricated run folders -> exact expected text)."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from synvid import tables

ROOT = Path(__file__).resolve().parent.parent


def _write(folder: Path, name: str, obj: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(obj))


def _finetune_run(folder: Path, top1: float, init: str, dataset: str = "k400", **extra) -> None:
    """The layout synvid.engine.finetune writes: config.json (FinetuneConfig + extras) and DONE (results)."""
    _write(folder, "config.json", {"FinetuneConfig": {"model": "vit_tiny_patch16_224"}, "dataset": dataset,
                                   "init": init, "profile": "smoke", **extra})
    _write(folder, "DONE", {"top1": top1, "top5": 99.0, "dataset": dataset})


@pytest.fixture
def k400_runs(tmp_path):
    runs = tmp_path / "runs"
    pre = runs / "pretrain" / "accelerating_transforming_image_crops"
    _write(pre, "config.json", {"PretrainConfig": {"model": "pretrain_videomae_tiny_patch16_224"},
                                "dataset": "accelerating_transforming_image_crops"})
    _write(pre, "DONE", {"steps": 4})                                   # not a downstream result: ignored
    _finetune_run(runs / "finetune" / "k400" / "scratch", 60.0, "scratch")
    _finetune_run(runs / "finetune" / "k400" / "crops", 75.0, str(pre / "checkpoint.pth"))
    _finetune_run(runs / "finetune" / "k400" / "crops_seed1", 76.0, str(pre / "checkpoint.pth"))
    _finetune_run(runs / "finetune" / "k400" / "official", 80.0, "/ckpt/official.pth", pretrain_dataset="k400")
    _write(runs / "finetune" / "k400" / "unfinished", "config.json", {"FinetuneConfig": {}, "init": "scratch"})
    return runs


GOLDEN_TABLE4 = """\
**Table 4: Kinetics-400** (toy/smoke — not paper results)

| Pre-training                              | key                                     | k400_finetune paper   | k400_finetune ours   | k400_finetune diff   |
|-------------------------------------------|-----------------------------------------|-----------------------|----------------------|----------------------|
| Scratch                                   | `scratch`                               | 68.8                  | 60.0                 | -8.8                 |
| Accelerating and transforming image crops | `accelerating_transforming_image_crops` | 79.1                  | 75.5 (n=2)           | -3.6                 |
| Kinetics-400                              | `k400`                                  | 80.7                  | 80.0                 | -0.7                 |
"""

GOLDEN_GAPS = """\
**Gap closed, % = (ours - scratch) / (reference - scratch)** (toy/smoke — not paper results)

| Claim                                         | paper text   | from paper tables   | ours   |
|-----------------------------------------------|--------------|---------------------|--------|
| UCF101 fine-tune gap closed by StyleGAN crops | 97.2         | 97.2                | —      |
| K400 gap closed by image crops                | 86.5         | 86.6                | 77.5   |
| UCF101 linear-probe gap closed by image crops | 40.6         | 40.7                | —      |
"""


def test_golden_end_to_end(k400_runs, tmp_path):
    summary = tables.write_all(k400_runs, tmp_path / "out", profile="smoke", figures=False)
    assert summary["records"] == 4 and summary["problems"] == []
    assert (tmp_path / "out/tables/table4.md").read_text() == GOLDEN_TABLE4
    assert (tmp_path / "out/tables/gaps.md").read_text() == GOLDEN_GAPS
    table1 = (tmp_path / "out/tables/table1.md").read_text()
    assert "| 91.3 " in table1 and "—" in table1                    # paper values with no runs of ours


def test_profile_filter_drops_other_profiles(k400_runs, tmp_path):
    tables.write_all(k400_runs, tmp_path / "out", profile="paper", figures=False)
    text = (tmp_path / "out/tables/table4.md").read_text()
    assert "not paper results" not in text and "60.0" not in text


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
    progression = pytest.importorskip("synvid.progression")
    used = [r["dataset"] for r in tables.read_reported() if r["table"] == "table1"]
    baselines = {"scratch", "ucf101"}
    assert [k for k in dict.fromkeys(used) if k not in baselines] == list(progression.NAMES)
    slow = {r["dataset"] for r in tables.read_reported() if r["table"] == "table9"}
    missing = slow - set(progression.DATASETS)
    assert missing <= {"accelerating_transforming_textures_slow"}, missing   # the one not registered yet


def test_gap_arithmetic():
    assert tables.gap_closed(79.1, 68.8, 80.7) == 86.6                    # PROTOCOLS Q2 (§9.1 value)
    assert tables.gap_closed(90.2, 51.4, 91.3) == 97.2                    # abstract
    assert tables.gap_closed(24.8, 8.9, 48.0) == 40.7                     # §4.3 prints 40.6 (truncated)
    with pytest.raises(ValueError, match="no gap"):
        tables.gap_closed(50.0, 40.0, 40.0)


def test_record_inference_and_problems(tmp_path):
    probe = tmp_path / "linprobe" / "run"
    _write(probe, "config.json", {"LinprobeConfig": {"model": "vit_tiny_patch16_224"}, "FinetuneConfig": {},
                                  "dataset": "toy_ucf101", "init": "scratch", "profile": "smoke"})
    _write(probe, "DONE", {"top1": 12.5})
    rec = tables.record_from_run(probe)
    assert (rec["task"], rec["dataset"], rec["toy"], rec["pretrain_dataset"], rec["model"]) == \
        ("linprobe", "ucf101", True, "scratch", "vit_tiny_patch16_224")
    _finetune_run(tmp_path / "finetune" / "orphan", 10.0, "/nowhere/official.pth")
    records, problems = tables.collect_records(tmp_path)
    assert len(records) == 1 and len(problems) == 1 and "pretrain_dataset" in problems[0]


def test_ucf101p_wins_and_pearson(tmp_path):
    for key, acc in (("ucf101", [50.0, 60.0, 70.0]), ("accelerating_transforming_image_crops", [55.0, 50.0, 71.0])):
        _write(tmp_path / key, "DONE", {"task": "ucf101p", "pretrain_dataset": key, "profile": "paper",
                                        "corruptions": dict(zip(("a", "b", "c"), acc))})
    records, _ = tables.collect_records(tmp_path)
    text = tables.ucf101p_markdown(records, tables.read_reported(), profile="paper")
    assert "| Image crops beats UCF101 pre-training    | 11/14   | 2/3    |" in text
    for key, acc in (("ucf101", 40.0), ("accelerating_transforming_image_crops", 45.0)):   # glass_blur: 14th only
        _write(tmp_path / key, "DONE", {"task": "ucf101p", "pretrain_dataset": key, "profile": "paper",
                                        "corruptions": {"jpeg": 50.0, "glass_blur": acc}})
    records, _ = tables.collect_records(tmp_path)
    text = tables.ucf101p_markdown(records, tables.read_reported(), profile="paper")
    assert "| 1/2 (0/1 UCF101-P sets) |" in text
    assert tables.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert tables.pearson([1, 2], [1, 2]) is None and tables.pearson([1, 1, 1], [1, 2, 3]) is None
    assert math.isclose(tables.pearson([1, 2, 3, 4], [4, 3, 2, 1]), -1.0)


def test_cli_writes_tables_and_figure(k400_runs, tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "paper_tables/make_tables.py", "--profile", "smoke",
                           "--runs", str(k400_runs), "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (out / "tables/table4.md").read_text() == GOLDEN_TABLE4
    assert (out / "figures/fig2_progression.png").stat().st_size > 1000
    bad = subprocess.run([sys.executable, "paper_tables/make_tables.py", "--runs", str(tmp_path / "none"),
                          "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "is not a folder" in bad.stderr


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
    _write(pre, "config.json", {"PretrainConfig": {}, "dataset": None, "list": str(data / "train.csv")})
    _finetune_run(runs / "finetune" / "sg", 70.0, str(pre / "last.pth"), dataset="toy_ucf101")
    _write(runs / "ucf101p" / "data", "config.json", {"RobustnessConfig": {}, "data_root": "x"})
    _write(runs / "ucf101p" / "data", "DONE", {"corruptions": ["jpeg"]})   # the corrupted copies: no record
    ev = runs / "ucf101p" / "eval" / "sg"
    _write(ev, "config.json", {"RobustnessConfig": {}, "run": str(runs / "finetune" / "sg"), "profile": "smoke"})
    _write(ev, "DONE", {"wins": {}, "task": "ucf101p", "corruptions": {"jpeg": 50.0}, "model": "vit_tiny_patch16_224",
                        "pretrain_dataset": "accelerating_transforming_stylegan", "dataset": "toy_ucf101"})
    records, problems = tables.collect_records(runs)
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


def test_fig4_pearson_from_stats_records(tmp_path):
    runs = tmp_path / "runs"
    fid = {"moving_circles": 200.0, "moving_shapes": 150.0, "accelerating_transforming_shapes": 100.0}
    _write(runs / "stats", "config.json", {"StatsConfig": {}, "stats": ["fid"], "profile": "smoke"})
    _write(runs / "stats", "DONE", {k: {"fid": {"fid": v}} for k, v in fid.items()})
    for k, acc in zip(fid, (60.0, 70.0, 80.0)):                   # accuracy falls as FID grows: r = -1
        pre = runs / "pretrain" / k
        _write(pre, "config.json", {"PretrainConfig": {}, "dataset": k})
        _finetune_run(runs / "finetune" / k, acc, str(pre / "last.pth"), dataset="toy_ucf101")
    records, _ = tables.collect_records(runs)
    text = tables.fig4_markdown(records, tables.read_reported(), tables.our_values(records), "smoke")
    assert "| fid        | -0.72     | -1.00    | 3          |" in text


def test_vjepa_runs_get_their_own_column_group_and_never_mix(k400_runs, tmp_path):
    """Issue 16: a fine-tune fed by a V-JEPA pre-training is recorded with objective 'vjepa' (from the upstream
    config.json) and shown in an `ours V-JEPA` column, not averaged into VideoMAE's `ours`."""
    pre = k400_runs / "pretrain_vjepa" / "accelerating_transforming_image_crops"
    _write(pre, "config.json", {"PretrainConfig": {"objective": "vjepa"}, "objective": "vjepa",
                                "dataset": "accelerating_transforming_image_crops"})
    _finetune_run(k400_runs / "finetune_vjepa" / "k400" / "crops", 70.0, str(pre / "last.pth"))
    rec = tables.record_from_run(k400_runs / "finetune_vjepa" / "k400" / "crops")
    assert rec["objective"] == "vjepa" and rec["pretrain_dataset"] == "accelerating_transforming_image_crops"
    assert tables.record_from_run(k400_runs / "finetune" / "k400" / "crops")["objective"] == "videomae"
    tables.write_all(k400_runs, tmp_path / "out", profile="smoke", figures=True)
    lines = (tmp_path / "out/tables/table4.md").read_text().splitlines()
    assert lines[2].split("|")[-2].strip() == "k400_finetune ours V-JEPA"
    crops = next(line for line in lines if "`accelerating_transforming_image_crops`" in line)
    assert [c.strip() for c in crops.split("|")[3:7]] == ["79.1", "75.5 (n=2)", "-3.6", "70.0"]
    scratch = next(line for line in lines if "`scratch`" in line)
    assert scratch.split("|")[-2].strip() == "60.0"   # scratch has no pre-training: the same for every objective
    assert (tmp_path / "out/figures/fig2_progression.png").stat().st_size > 0


def test_fig4_leaves_out_a_singular_diversity(tmp_path):
    # A static set's covariance is singular (log-det -inf, metrics.covariance_log_det): no point in a Pearson r.
    runs = tmp_path / "runs"
    div = {"static_circles": float("-inf"), "moving_circles": 1.0, "moving_shapes": 2.0,
           "accelerating_transforming_shapes": 3.0}
    _write(runs / "stats", "config.json", {"StatsConfig": {}, "stats": ["diversity"], "profile": "smoke"})
    _write(runs / "stats", "DONE", {k: {"diversity": {"log_det_diversity": v}} for k, v in div.items()})
    for k, acc in zip(div, (10.0, 60.0, 70.0, 80.0)):
        pre = runs / "pretrain" / k
        _write(pre, "config.json", {"PretrainConfig": {}, "dataset": k})
        _finetune_run(runs / "finetune" / k, acc, str(pre / "last.pth"), dataset="toy_ucf101")
    records, _ = tables.collect_records(runs)
    text = tables.fig4_markdown(records, tables.read_reported(), tables.our_values(records), "smoke")
    row = next(line for line in text.splitlines() if line.startswith("| diversity"))
    assert row.split("|")[3].strip() == "1.00" and row.split("|")[4].strip() == "3"
