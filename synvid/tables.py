"""Paper tables as markdown: paper | ours | ours − paper for every reported cell (Tables 1-4 and 9-12, the gap
claims, Figure 3's win counts, Figure 4's correlations and claims). Which runs fill a cell: synvid.provenance;
figures: synvid.figures; the report that puts both in paper order: synvid.report.

Inputs: `paper_tables/reported.csv` (the paper's numbers, transcribed once) and the records of finished runs.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from synvid.corruptions import BENCHMARK, NAMES as CORRUPTIONS
from synvid.errors import BadInput
from synvid.progression import NAMES as PROGRESSION
from synvid.provenance import DEFAULT_OBJECTIVE, CellKey, Expected, Selection, summarize

MISSING = "—"
REPORTED_CSV = Path(__file__).resolve().parent.parent / "paper_tables" / "reported.csv"
# Captions for results that must never be read as paper numbers (COMMON.md: smoke numbers are toy).
NOT_PAPER = {"smoke": "toy/smoke — not paper results", "mini": "reduced scale (mini profile) — not paper results"}
LEGEND = ("Legend: *paper* = the paper's number; *ours* = mean ± half-width of the 95% t-interval over n runs "
          "(seeds; one run has no ±); *ours − paper* = difference of the means; [e/N] = test videos evaluated / "
          "listed when some were skipped; † = runs with command-line overrides exist for the cell (listed under the "
          "table, never averaged in); — (reason) = why a cell is empty.")


@dataclass(frozen=True)
class TableSpec:
    title: str
    columns: tuple[str, ...]          # reported.csv `column` keys, e.g. "ucf101_finetune"


# Accuracy tables of the paper (numbering of the arXiv full text, 003_*.txt).
TABLES = {
    "table1": TableSpec("Table 1: progression, ViT-B (HMDB51 fine-tune, UCF101 linear probe / fine-tune)",
                        ("hmdb51_finetune", "ucf101_linprobe", "ucf101_finetune")),
    "table2": TableSpec("Table 2: incorporating natural images (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table3": TableSpec("Table 3: incorporating synthetic textures (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table4": TableSpec("Table 4: Kinetics-400", ("k400_finetune",)),
    "table9": TableSpec("Table 9: slower objects (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table10": TableSpec("Table 10: more textures and backgrounds (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table11": TableSpec("Table 11: mixed with real videos (UCF101 fine-tune)", ("ucf101_finetune",)),
    "table12": TableSpec("Table 12: saturated textures (UCF101 fine-tune)", ("ucf101_finetune",)),
}
COLUMNS = {c for spec in TABLES.values() for c in spec.columns}
# "closes X% of the gap" claims: (reported.csv row of table `text`, column, ours, scratch, reference)
GAPS = (
    ("UCF101 fine-tune gap closed by StyleGAN crops", "ucf101_finetune", "accelerating_transforming_stylegan",
     "scratch", "ucf101"),
    ("K400 gap closed by image crops", "k400_finetune", "accelerating_transforming_image_crops", "scratch", "k400"),
    ("UCF101 linear-probe gap closed by image crops", "ucf101_linprobe", "accelerating_transforming_image_crops",
     "scratch", "ucf101"),
)
FIG4_METRICS = ("fid", "fvd", "diversity", "color_kl")
OBJECTIVES = {"videomae": "VideoMAE", "vjepa": "V-JEPA"}   # column-group labels; videomae = the paper's
FIG4_PAPER_DATASETS = 28                 # §5.3: "In total, we generated 28 datasets"


@dataclass
class Context:
    """What every renderer reads: the paper's numbers, the selected runs, and why a cell may be empty."""
    reported: list[dict]
    selection: Selection
    expected: Expected
    planned: set[str] | None = None      # "column:key" launched by this run_all.sh plan; None = unknown
    toy: bool = False

    def key(self, column: str, pretrain: str, objective: str = DEFAULT_OBJECTIVE) -> CellKey:
        """Scratch runs have no pre-training: the same cell for every objective's column group."""
        return CellKey(column, pretrain, DEFAULT_OBJECTIVE if pretrain == "scratch" else objective,
                       self.expected.size)

    def mean(self, column: str, pretrain: str) -> float | None:
        return summarize(self.selection.values(self.key(column, pretrain)))[0]

    def objectives(self) -> list[str]:
        """Column groups: VideoMAE always, other pre-training objectives (RECORDS.md) when they have results."""
        found = {k.objective for k in (*self.selection.cells, *self.selection.marked)}
        return [DEFAULT_OBJECTIVE] + sorted(found - {DEFAULT_OBJECTIVE})


def read_reported(path: str | Path = REPORTED_CSV) -> list[dict]:
    """Rows of reported.csv with `value` as float; raises naming the line on a malformed row."""
    rows = []
    with open(path, newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            missing = [k for k in ("table", "row", "column", "dataset", "value") if not row.get(k)]
            if missing:
                raise BadInput(f"{path}:{line}: empty {', '.join(missing)}")
            try:
                row["value"] = float(row["value"])
            except ValueError as e:
                raise BadInput(f"{path}:{line}: value {row['value']!r} is not a number") from e
            rows.append(row)
    return rows


def gap_closed(ours: float, scratch: float, reference: float) -> float:
    """Percent of the scratch -> reference gap closed, rounded to 1 decimal (PROTOCOLS Q2)."""
    if reference == scratch:
        raise BadInput(f"no gap to close: reference == scratch == {scratch}")
    return round(100.0 * (ours - scratch) / (reference - scratch), 1)


# Figure 4 (§5.3-5.4) prints r over the pre-training sets; two points always give r = ±1, so r needs three.
PEARSON_MIN_POINTS = 3


def pearson(x: list[float], y: list[float]) -> float | None:
    """Figure 4's Pearson r (its table and its panels), or None with fewer than PEARSON_MIN_POINTS points or a
    constant series."""
    if len(x) < PEARSON_MIN_POINTS:
        return None
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else None


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def caption(title: str, profile: str | None, toy: bool = False) -> str:
    note = NOT_PAPER.get(profile or "")
    if toy and note is None:
        note = "toy data — not paper results"
    return f"**{title}**" + (f" ({note})" if note else "")


def _table(body: list[list[str]], headers: list[str]) -> str:
    return tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)


# --- Cells -----------------------------------------------------------------------------------------------------------

def empty_reason(ctx: Context, key: CellKey) -> str:
    """Why no run fills `key`: refused or override-only runs, a missing input, a mode, or not finished."""
    column, pretrain, profile = key.column, key.pretrain, ctx.expected.profile
    if key in ctx.selection.marked:
        return "only runs with overrides, listed below"
    if key in ctx.selection.refused_cells():
        return "runs refused, see problems.md"
    if ctx.planned is not None and f"{column}:{pretrain}" in ctx.planned:
        return "launched, not finished yet"
    if column.startswith("k400_"):
        return "needs K400_ROOT" + (" and VIDEOMAE_K400_CKPT" if pretrain == "k400" else "")
    if pretrain == "ucf101":
        return "needs VIDEOMAE_UCF101_CKPT (official checkpoint)"
    if profile == "smoke":
        return "not in the smoke profile"
    if pretrain not in (*PROGRESSION, "scratch"):
        return "needs --ablations"
    return "not run"


def ours_cell(ctx: Context, key: CellKey) -> str:
    """mean ± 95% t half-width (n=k) [evaluated/listed] †, or — (reason)."""
    runs = ctx.selection.cells.get(key, [])
    mark = " †" if key in ctx.selection.marked else ""
    if not runs:
        return f"{MISSING} ({empty_reason(ctx, key)}){mark}"
    mean, half, n = summarize([float(r["top1"]) for r in runs])
    text = f"{mean:.1f}" + (f" ± {half:.1f}" if half is not None else "") + f" (n={n})"
    counted = [r for r in runs if r["test_listed"] is not None]
    listed, evaluated = sum(r["test_listed"] for r in counted), sum(r["test_evaluated"] for r in counted)
    if evaluated < listed:
        text += f" [{evaluated}/{listed}]"
    return text + mark


def _override_lines(ctx: Context, keys: list[CellKey]) -> str:
    """The runs with overrides of these cells: shown, marked, never averaged in."""
    lines = [f"- † `{k.pretrain}` {k.column}" + (f" ({OBJECTIVES.get(k.objective, k.objective)})"
                                                   if k.objective != DEFAULT_OBJECTIVE else "")
             + f": {float(r['top1']):.1f} — `{r['run']}`, overrides {r['overrides']}"
             for k in keys for r in ctx.selection.marked.get(k, [])]
    return ("\nRuns with overrides (not averaged in):\n\n" + "\n".join(lines) + "\n") if lines else ""


def table_markdown(name: str, ctx: Context) -> str:
    """One paper table: a row per reported row; per column `paper`, then `ours | ours − paper` per objective."""
    spec, objectives = TABLES[name], ctx.objectives()
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for r in ctx.reported:
        if r["table"] == name:
            rows.setdefault((r["row"], r["dataset"]), {})[r["column"]] = r["value"]
    headers = ["Pre-training", "key"]
    for col in spec.columns:
        headers.append(f"{col} paper")
        for obj in objectives:
            tag = "" if obj == DEFAULT_OBJECTIVE else f" {OBJECTIVES.get(obj, obj)}"
            headers += [f"{col} ours{tag}", f"{col} ours − paper{tag}"]
    body, keys = [], []
    for (row, pretrain), values in rows.items():
        line = [row, f"`{pretrain}`"]
        for col in spec.columns:
            paper = values.get(col)
            line.append(_fmt(paper))
            for obj in objectives:
                key = ctx.key(col, pretrain, obj)
                keys.append(key)
                mine = summarize(ctx.selection.values(key))[0]
                diff = mine - paper if paper is not None and mine is not None else None
                line += [ours_cell(ctx, key), _fmt(diff, signed=True)]
        body.append(line)
    text = f"{caption(spec.title, ctx.expected.profile, ctx.toy)}\n\n{_table(body, headers)}\n"
    return text + _override_lines(ctx, keys) + f"\n{LEGEND}\n"


def gaps_markdown(ctx: Context) -> str:
    """The "closes X% of the gap" claims: the paper's figure, recomputed from its tables, and ours."""
    claimed = {r["row"]: r["value"] for r in ctx.reported if r["table"] == "text" and r["column"] == "gap_closed"}
    paper_acc = {(r["column"], r["dataset"]): r["value"] for r in ctx.reported if r["table"] in ("table1", "table4")}
    body = []
    for row, col, key, low, high in GAPS:
        recomputed = gap_closed(paper_acc[(col, key)], paper_acc[(col, low)], paper_acc[(col, high)])
        mine = [ctx.mean(col, k) for k in (key, low, high)]
        absent = [k for k, m in zip((key, low, high), mine) if m is None]
        if absent:
            ours = f"{MISSING} (no `{'`, `'.join(absent)}` {col})"
        else:
            ours = _fmt(gap_closed(*mine)) if mine[1] != mine[2] else f"{MISSING} (scratch = reference)"
        body.append([row, _fmt(claimed.get(row)), _fmt(recomputed), ours])
    title = "Gap closed, % = (ours − scratch) / (reference − scratch)"
    table = _table(body, ["Claim", "paper text", "from paper tables", "ours"])
    return f"{caption(title, ctx.expected.profile, ctx.toy)}\n\n{table}\n"


def vit_l_markdown(ctx: Context) -> str:
    """Figure 2's ViT-L series (UCF101 fine-tune): the paper prints no ViT-L numbers, so ours stand alone."""
    keys = sorted({k for k in ctx.selection.cells if k.size == "large"}, key=lambda k: (k.column, k.pretrain))
    body = [[f"`{k.pretrain}`", k.column, k.objective, ours_cell(ctx, k)] for k in keys]
    table = _table(body, ["key", "column", "objective", "ours (ViT-L)"]) if body else \
        f"{MISSING} (no ViT-L runs: `run_all.sh --vit-l` launches them)"
    title = "Figure 2, ViT-L series (ours only: the paper prints no ViT-L numbers)"
    return f"{caption(title, ctx.expected.profile, ctx.toy)}\n\n{table}\n"


def ucf101p_means(ctx: Context) -> dict[str, dict[str, float]]:
    """{pre-training key: {corruption: mean top-1 over its runs}} of the accepted UCF101-P evaluations."""
    per: dict[str, dict[str, list[float]]] = {}
    for rec in ctx.selection.ucf101p:
        objective = rec.get("objective") or DEFAULT_OBJECTIVE   # another objective's runs: their own column
        label = rec["pretrain_dataset"] + ("" if objective == DEFAULT_OBJECTIVE else
                                           f" ({OBJECTIVES.get(objective, objective)})")
        for name, top1 in rec.get("corruptions", {}).items():
            per.setdefault(label, {}).setdefault(name, []).append(float(top1))
    return {k: {c: sum(v) / len(v) for c, v in cs.items()} for k, cs in per.items()}


def ucf101p_markdown(ctx: Context) -> str:
    """Figure 3: per-corruption top-1 of each pre-training, and the win count against UCF101 pre-training.
    The paper gives only the counts (11/14 and 6/14) in text, not the per-corruption values."""
    per = ucf101p_means(ctx)
    names, keys = sorted({c for v in per.values() for c in v}), sorted(per)
    body = [[c] + [_fmt(per[k].get(c)) for k in keys] for c in names]
    table = _table(body, ["Corruption"] + [f"`{k}`" for k in keys]) if body else \
        f"{MISSING} (no UCF101-P results: stage ucf101p)"
    wins = []
    for r in (r for r in ctx.reported if r["table"] == "fig3"):
        if r["dataset"] in per and "ucf101" in per:
            ours, ref = per[r["dataset"]], per["ucf101"]
            common = set(ours) & set(ref)
            mine = f"{sum(ours[c] > ref[c] for c in common)}/{len(common)}"
            bench = common - (set(CORRUPTIONS) - set(BENCHMARK))  # glass_blur is not a UCF101-P set (PROTOCOLS §4.5)
            if bench != common:
                mine += f" ({sum(ours[c] > ref[c] for c in bench)}/{len(bench)} UCF101-P sets)"
        else:
            absent = [k for k in (r["dataset"], "ucf101") if k not in per]
            mine = f"{MISSING} (no UCF101-P run of `{'`, `'.join(absent)}`)"
        wins.append([r["row"], f"{int(r['value'])}/14", mine])
    title = "Figure 3: UCF101-P top-1 per corruption (fine-tuned on UCF101)"
    return (f"{caption(title, ctx.expected.profile, ctx.toy)}\n\n{table}\n\n"
            f"{_table(wins, ['Claim', 'paper', 'ours'])}\n")


def fig4_points(ctx: Context, metric: str) -> list[tuple[str, float, float]]:
    """(pre-training key, statistic, our UCF101 fine-tune mean) for every set with both. A non-finite statistic (a
    singular diversity covariance gives -inf, metrics.covariance_log_det) has no place in a correlation: left out."""
    points = []
    for rec in sorted(ctx.selection.stats, key=lambda r: r["pretrain_dataset"]):
        accuracy = ctx.mean("ucf101_finetune", rec["pretrain_dataset"])
        value = rec["metrics"].get(metric)
        if value is not None and math.isfinite(float(value)) and accuracy is not None:
            points.append((rec["pretrain_dataset"], float(rec["metrics"][metric]), accuracy))
    return points


def _spectrum_claim(ctx: Context, paper: dict) -> list[str]:
    """§5.4: the best datasets have a spectrum exponent alpha in [1.2, 1.4]; ours: alpha of our best set."""
    low, high = paper.get("low"), paper.get("high")
    points = fig4_points(ctx, "spectrum_alpha")
    claim = f"best datasets have α in [{low}, {high}]"
    if not points:
        return ["spectrum α of the best dataset (§5.4, Fig. 4d)", claim, f"{MISSING} (no spectrum statistics)", "0"]
    best = max(points, key=lambda p: p[2])
    inside = "inside" if low <= best[1] <= high else "outside"
    return ["spectrum α of the best dataset (§5.4, Fig. 4d)", claim,
            f"α = {best[1]:.2f} for `{best[0]}` ({inside})", str(len(points))]


def fig4_markdown(ctx: Context) -> str:
    """Figure 4: Pearson r between each dataset property and our UCF101 fine-tune top-1 over every pre-training set
    with both (n beside the paper's 28), and the spectrum claim; the colour claim is the colour-KL row (r = -0.42)."""
    paper = {r["dataset"]: r["value"] for r in ctx.reported if r["table"] == "fig4" and r["column"] == "pearson_r"}
    alpha = {("low" if "low" in r["row"] else "high"): r["value"] for r in ctx.reported
             if r["table"] == "fig4" and r["column"] == "spectrum_alpha_best"}
    body = []
    for m in FIG4_METRICS:
        pts = fig4_points(ctx, m)
        r = pearson([p[1] for p in pts], [p[2] for p in pts])
        reason = ("no set has this statistic and a UCF101 fine-tune (stage analysis)" if not pts else
                  "fewer than 3 sets with this statistic and a UCF101 fine-tune" if len(pts) < 3 else "constant")
        body.append([m, MISSING if m not in paper else f"r = {paper[m]:.2f}",
                     f"{MISSING} ({reason})" if r is None else f"r = {r:.2f}", str(len(pts))])
    body.append(_spectrum_claim(ctx, alpha))
    headers = ["Property", "paper", "ours", f"n (paper: {FIG4_PAPER_DATASETS} sets)"]
    title = "Figure 4: dataset properties vs UCF101 fine-tune accuracy (Pearson r)"
    return f"{caption(title, ctx.expected.profile, ctx.toy)}\n\n{_table(body, headers)}\n"
