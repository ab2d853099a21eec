"""The paper's figures from finished runs, all under `<out>/figures/`: Figure 2 (Table 1 columns as bars,
paper vs ours with 95% t-interval error bars, plus our ViT-L series), Figure 3 (UCF101-P per corruption; also the
chart of each finetune/4_2_eval_ucf101p.py run), Figure 4 (statistics vs accuracy, synvid.stats.correlation) and
copies of the Figure 1 and Figure 5 images their runs drew."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from synvid.provenance import CellKey, load_json, summarize
from synvid.runs import atomic_write
from synvid.stats import correlation
from synvid.tables import NOT_PAPER, OBJECTIVES, TABLES, Context, fig4_points, ucf101p_means

# Images drawn by their own runs (DONE {"png": ...}): file name in the run -> name under figures/
COPIED = {"figure1_grid.png": "fig1_samples.png", "fig5_key_pca.png": "fig5_key_pca.png"}


def pyplot():
    import matplotlib
    matplotlib.use("Agg")   # no display on the training machines
    import matplotlib.pyplot as plt
    return plt


def save_png(fig, path: Path) -> Path:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    pyplot().close(fig)
    return path


def bars(ax, labels: list[str], series: dict[str, tuple[list[float], list[float] | None]]) -> None:
    """Side-by-side bars per label; each series is (heights, error half-widths or None); NaN = no bar."""
    width = 0.8 / len(series)
    for i, (name, (heights, errors)) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        ax.bar(xs, heights, width, yerr=errors, capsize=2 if errors else 0, label=name)
    ax.set_xticks(list(range(len(labels))), labels, rotation=70, ha="right", fontsize=7)
    ax.set_ylabel("top-1 (%)")


def _ours(ctx: Context, key: CellKey) -> tuple[float, float]:
    mean, half, _ = summarize(ctx.selection.values(key))
    return (float("nan") if mean is None else mean), (0.0 if half is None else half)


def fig2_progression(ctx: Context, path: str | Path) -> Path:
    """Figure 2 style bars: the Table 1 rows per column, paper vs ours (error bars: 95% t-interval over seeds),
    and a last panel with our ViT-L UCF101 fine-tune series when it exists (no paper bars: none are printed)."""
    plt = pyplot()
    rows = list(dict.fromkeys((r["row"], r["dataset"]) for r in ctx.reported if r["table"] == "table1"))
    paper = {(r["column"], r["dataset"]): r["value"] for r in ctx.reported if r["table"] == "table1"}
    vit_l = [CellKey("ucf101_finetune", k, size="large") for _, k in rows]
    panels = list(TABLES["table1"].columns) + (["ViT-L"] if any(ctx.selection.values(k) for k in vit_l) else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    labels = [row for row, _ in rows]
    for ax, col in zip(axes[0], panels):
        if col == "ViT-L":
            ours = [_ours(ctx, k) for k in vit_l]
            bars(ax, labels, {"ours ViT-L": ([o[0] for o in ours], [o[1] for o in ours])})
            ax.set_title("ucf101_finetune, ViT-L (ours only)")
            continue
        series = {"paper": ([paper.get((col, k), float("nan")) for _, k in rows], None)}
        for objective in ctx.objectives():       # a bar per pre-training objective with results (V-JEPA)
            ours = [_ours(ctx, ctx.key(col, k, objective)) for _, k in rows]
            name = "ours" + ("" if objective == ctx.objectives()[0] else f" {OBJECTIVES.get(objective, objective)}")
            series[name] = ([o[0] for o in ours], [o[1] for o in ours])
        bars(ax, labels, series)
        ax.set_title(col)
    axes[0][0].legend()
    note = NOT_PAPER.get(ctx.expected.profile)
    fig.suptitle("Figure 2 / Table 1: progression (error bars: 95% t-interval over seeds)"
                 + (f" — {note}" if note else ""))
    fig.tight_layout()
    return save_png(fig, Path(path))


def ucf101p_chart(models: dict[str, dict[str, float]], path: str | Path, *, names: list[str] | None = None,
                  title: str = "UCF101-P top-1 (%)") -> Path:
    """Figure 3: top-1 per corruption (`names` in order; default: every corruption of `models`), one bar series
    per model."""
    names = names or list(dict.fromkeys(c for acc in models.values() for c in acc))
    fig, ax = pyplot().subplots(figsize=(max(6, len(names)), 4))
    bars(ax, names, {k: ([v.get(c, float("nan")) for c in names], None) for k, v in models.items()})
    ax.legend(fontsize=7)
    ax.set_title(title)
    fig.tight_layout()
    return save_png(fig, Path(path))


def fig3_ucf101p(ctx: Context, path: str | Path) -> Path | None:
    """Figure 3 of the report: one bar series per pre-training; None without results."""
    per = ucf101p_means(ctx)
    if not per:
        return None
    note = NOT_PAPER.get(ctx.expected.profile)
    return ucf101p_chart(dict(sorted(per.items())), path, names=sorted({c for v in per.values() for c in v}),
                         title="Figure 3: UCF101-P" + (f" — {note}" if note else ""))


def fig4_correlations(ctx: Context, path: str | Path) -> Path | None:
    """Figure 4 panels over every pre-training set with a statistic and an accepted UCF101 fine-tune; None when
    no set has both."""
    statistics = {r["pretrain_dataset"]: r.get("results", {}) for r in ctx.selection.stats}
    accuracies = {k: acc for m in ("fid", "fvd", "diversity", "spectrum_alpha", "color_kl")
                  for k, _, acc in fig4_points(ctx, m)}
    if not accuracies:
        return None
    correlation.plot_correlations(statistics, accuracies, path)
    return Path(path)


def copy_run_figures(runs: str | Path, figures: str | Path) -> list[Path]:
    """Copy the Figure 1 and Figure 5 images of finished runs under `runs` into `figures` (latest run wins)."""
    copied = {}
    for done in sorted(Path(runs).rglob("DONE")):
        try:
            png = load_json(done).get("png")
        except (json.JSONDecodeError, AttributeError):   # a DONE that is not a JSON object holds no figure
            continue
        if isinstance(png, str) and Path(png).name in COPIED:
            source = done.parent / Path(png).name
            if source.exists():
                copied[COPIED[Path(png).name]] = source
    return [atomic_write(Path(figures) / name, lambda tmp, src=source: shutil.copyfile(src, tmp))
            for name, source in copied.items()]
