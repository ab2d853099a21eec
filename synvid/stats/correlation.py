"""Figure 4 (a-e): each dataset statistic against the UCF101 fine-tune top-1 of models pre-trained on those
datasets, Pearson r (tables.pearson, the r of the Figure 4 table) on each panel. Accuracies come from our fine-tune
runs (read with synvid.tables, the same reader as the tables) or from a CSV (`dataset,accuracy` or
paper_tables/reported.csv)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from synvid import provenance, tables
from synvid.errors import BadInput, MissingInput
from synvid.provenance import STAT_KEYS
from synvid.runs import RunDir, atomic_write

# panel label -> key path in results/<dataset>.json; Fig. 4 a-e of the paper
METRICS = {"FID": STAT_KEYS["fid"], "FVD": STAT_KEYS["fvd"],
           "frame diversity (log det)": STAT_KEYS["diversity"],
           "spectrum alpha": STAT_KEYS["spectrum_alpha"], "colour KL (sym.)": STAT_KEYS["color_kl"]}


def load_statistics(results_dir) -> dict[str, dict]:
    """{dataset: results dict} from every results/<dataset>.json written by synvid.stats.cli."""
    files = sorted(Path(results_dir).glob("*.json"))
    if not files:
        raise MissingInput(f"no <dataset>.json in {results_dir} (run analysis/5_3_similarity.py or 5_4)")
    return {f.stem: json.loads(f.read_text()) for f in files}


def accuracies_from_runs(runs, profile: str | None = None) -> dict[str, float]:
    """{pretrain dataset: mean UCF101 fine-tune top-1} over the runs under `runs` that the `profile` tables accept
    (synvid.provenance: same profile, model size, no overrides); refused runs are printed."""
    records, problems = provenance.collect_records(runs)
    expected = provenance.Expected.of(profile or "paper")
    selection = provenance.select(records, expected, tables.COLUMNS)
    for msg in problems + [reason for _, reason in selection.refused]:
        print(f"warning: {msg}")
    return {k.pretrain: float(np.mean(selection.values(k))) for k in selection.cells
            if k == provenance.CellKey("ucf101_finetune", k.pretrain, size=expected.size)}


def accuracies_from_csv(path) -> dict[str, float]:
    """`dataset,accuracy` rows, or reported.csv (its table1 ucf101_finetune rows)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and "column" in rows[0]:
        return {r["dataset"]: float(r["value"]) for r in rows
                if r["column"] == "ucf101_finetune" and r["table"] == "table1"}
    if not rows or not {"dataset", "accuracy"} <= set(rows[0]):
        raise BadInput(f"{path}: expected a header `dataset,accuracy` (or reported.csv columns)")
    return {r["dataset"]: float(r["accuracy"]) for r in rows}


def points(statistics: dict, accuracies: dict, metric: str) -> list[tuple[str, float, float]]:
    """(dataset, statistic, accuracy) for datasets that have both, sorted by name; a non-finite statistic (a
    singular diversity covariance gives -inf) is left out of the panel."""
    section, key = METRICS[metric]
    pts = [(d, float(statistics[d][section][key]), accuracies[d]) for d in sorted(statistics)
           if d in accuracies and statistics[d].get(section, {}).get(key) is not None]
    return [p for p in pts if np.isfinite(p[1])]


def plot_correlations(statistics: dict, accuracies: dict, path) -> dict[str, dict]:
    """One panel per statistic present; returns {metric: {"r", "n", "datasets"}}; writes a PNG atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = {m: points(statistics, accuracies, m) for m in METRICS}
    summary = {m: p for m, p in summary.items() if p}
    if not summary:
        raise BadInput(f"no dataset has both a statistic and an accuracy (statistics: {sorted(statistics)}, "
                       f"accuracies: {sorted(accuracies)})")
    fig, axes = plt.subplots(1, len(summary), figsize=(4 * len(summary), 3.6), squeeze=False)
    out = {}
    for ax, (metric, pts) in zip(axes[0], summary.items()):
        x, y = [p[1] for p in pts], [p[2] for p in pts]
        r = tables.pearson(x, y)
        ax.scatter(x, y)
        for d, a, b in pts:
            ax.annotate(d, (a, b), fontsize=6)
        note = (f"r = {r:.2f}" if r is not None else
                f"r undefined ({len(pts)} point(s); need >= {tables.PEARSON_MIN_POINTS}, not constant)")
        ax.set_title(f"{metric}\n{note}", fontsize=9)
        ax.set_xlabel(metric)
        ax.set_ylabel("UCF101 fine-tune top-1 (%)")
        out[metric] = {"r": r, "n": len(pts), "datasets": [p[0] for p in pts]}
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
    return out


def figure4(stats_dir, out, *, runs=None, accuracy_csv=None, only_profile: str | None = None) -> dict:
    """analysis/5_4_correlations.py: the statistics of `stats_dir` against the accuracies of the fine-tune runs
    under `runs` (of `only_profile`) or of `accuracy_csv`; <out>/fig4_correlations.png, then DONE with the r values."""
    stats = load_statistics(stats_dir)
    acc = accuracies_from_runs(runs, only_profile) if runs else accuracies_from_csv(accuracy_csv)
    # redo: the runs and statistics it reads grow under the same arguments, and drawing is cheap
    with RunDir(out, {"stats_dir": stats_dir, "runs": runs, "accuracy_csv": accuracy_csv}, redo=True) as run:
        summary = plot_correlations(stats, acc, Path(out) / "fig4_correlations.png")
        print(json.dumps(summary, indent=1))
        run.finish(summary)
    return summary
