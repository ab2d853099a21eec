"""Everything `paper_tables/make_tables.py` writes from the runs of one profile:

    <out>/tables/*.md          one file per paper table, gap claims, Figure 3 and Figure 4 tables, ViT-L series
    <out>/tables/problems.md   every run refused, with the reason (absent when none)
    <out>/figures/*.png        Figures 1-5
    <out>/REPORT.md            all of it in paper order, figures embedded next to their tables, with the profile,
                               the commit and the date at the top
"""
from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

from synvid import figures, tables
from synvid.provenance import Expected, collect_records, select
from synvid.runs import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
# The report in paper order: (heading, table file stem or None, figure file or None)
SECTIONS = (
    ("Figure 1: samples of the progression (§3.1)", None, "fig1_samples.png"),
    ("Table 1 and Figure 2: the progression (§4.1, §4.3)", "table1", "fig2_progression.png"),
    ("Figure 2, ViT-L series (§4.1, §9.3)", "fig2_vitl", None),
    ("Gap closed (abstract, §4.1, §4.3)", "gaps", None),
    ("Figure 3: UCF101-P (§4.2)", "fig3_ucf101p", "fig3_ucf101p.png"),
    ("Table 2 (§5.1)", "table2", None),
    ("Table 3 (§5.2)", "table3", None),
    ("Figure 4: dataset properties vs accuracy (§5.3, §5.4)", "fig4_properties", "fig4_correlations.png"),
    ("Figure 5: PCA of attention keys (§5.5)", None, "fig5_key_pca.png"),
    ("Table 4: Kinetics-400 (§4.1, §9.1)", "table4", None),
    ("Table 9 (§9.4)", "table9", None),
    ("Table 10 (§9.4)", "table10", None),
    ("Table 11 (§9.4)", "table11", None),
    ("Table 12 (§9.4)", "table12", None),
)
FIGURE_STAGE = {"fig1_samples.png": "stage data (3_1_sample_grid.py)",
                "fig2_progression.png": "make_tables.py without --no-figures", "fig3_ucf101p.png": "stage ucf101p",
                "fig4_correlations.png": "stage analysis and UCF101 fine-tunes",
                "fig5_key_pca.png": "stage analysis (5_5_visualize_features.py)"}


def stamp() -> str:
    """'commit <sha>[ (uncommitted changes)] · <UTC date>' of the checkout that renders the report."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short=12", "HEAD") or "unknown (not a git checkout)"
        dirty = " (uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    except OSError:
        commit, dirty = "unknown (git not found)", ""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"commit `{commit}`{dirty} · {date}"


def write_tables(ctx: tables.Context, folder: Path, problems: list[str]) -> dict[str, str]:
    """Every markdown table under `folder`; returns {stem: text}."""
    texts = {name: tables.table_markdown(name, ctx) for name in tables.TABLES}
    texts.update(gaps=tables.gaps_markdown(ctx), fig3_ucf101p=tables.ucf101p_markdown(ctx),
                 fig4_properties=tables.fig4_markdown(ctx), fig2_vitl=tables.vit_l_markdown(ctx))
    for name, text in texts.items():
        atomic_write_text(folder / f"{name}.md", text)
    if problems:
        atomic_write_text(folder / "problems.md", "# Runs refused by the tables\n\n" +
                          "".join(f"- {p}\n" for p in problems))
    else:
        (folder / "problems.md").unlink(missing_ok=True)   # a stale list from an earlier call would mislead
    return texts


def write_figures(ctx: tables.Context, runs: Path, folder: Path) -> list[Path]:
    written = [figures.fig2_progression(ctx, folder / "fig2_progression.png"),
               figures.fig3_ucf101p(ctx, folder / "fig3_ucf101p.png"),
               figures.fig4_correlations(ctx, folder / "fig4_correlations.png")]
    return [p for p in written if p is not None] + figures.copy_run_figures(runs, folder)


def report_markdown(ctx: tables.Context, texts: dict[str, str], figure_dir: Path, header: str,
                    problems: list[str]) -> str:
    """REPORT.md: profile, commit and date; then each paper table with its figure, in paper order."""
    profile = ctx.expected.profile
    lines = [f"# synvid results: profile `{profile}`", "", f"Profile `{profile}` · {header}", ""]
    if profile in tables.NOT_PAPER or ctx.toy:
        lines += [f"> {tables.NOT_PAPER.get(profile, 'toy data — not paper results')}.", ""]
    lines += [tables.LEGEND, ""]
    if problems:
        lines += [f"{len(problems)} run(s) refused by the tables: see [tables/problems.md](tables/problems.md).", ""]
    for heading, table, figure in SECTIONS:
        lines += [f"## {heading}", ""]
        if table:
            lines += [texts[table].replace(f"\n{tables.LEGEND}\n", ""), ""]   # the legend is given once, above
        if figure and (figure_dir / figure).exists():
            lines += [f"![{heading}](figures/{figure})", ""]
        elif figure:
            lines += [f"{tables.MISSING} (figure not drawn: needs {FIGURE_STAGE[figure]})", ""]
    return "\n".join(lines)


def write_all(runs: str | Path, out: str | Path, profile: str = "paper", reported_csv: str | Path | None = None,
              figures: bool = True, planned: set[str] | None = None, header: str | None = None) -> dict:
    """Write tables, figures and REPORT.md under `out` from the runs under `runs`; returns a summary.
    `planned`: the "column:key" cells this run_all.sh plan launches (empty cells then say why)."""
    runs, out = Path(runs), Path(out)
    reported = tables.read_reported(reported_csv or tables.REPORTED_CSV)
    records, unreadable = collect_records(runs)
    selection = select(records, Expected.of(profile), tables.COLUMNS)
    problems = unreadable + [reason for _, reason in selection.refused]
    toy = any(r["toy"] for keyed in selection.cells.values() for r in keyed)
    ctx = tables.Context(reported, selection, Expected.of(profile), planned, toy)
    texts = write_tables(ctx, out / "tables", problems)
    written = [out / "tables" / f"{name}.md" for name in texts]
    if figures:
        written += write_figures(ctx, runs, out / "figures")
    report = report_markdown(ctx, texts, out / "figures", header or stamp(), problems)
    written.append(atomic_write_text(out / "REPORT.md", report))
    accepted = sum(len(v) for v in selection.cells.values()) + len(selection.ucf101p) + len(selection.stats)
    return {"records": accepted, "problems": problems, "written": [str(p) for p in written]}
