"""Render demo sections to one self-contained HTML file and a Markdown file.

HTML: figures are embedded as base64 PNG, no scripts or fonts are fetched, every string
from a run is escaped by Jinja's autoescaping (only ``Example.html``, built and escaped by
quartet's own code, is inserted as is). Markdown: figures are linked by relative path.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from quartet.core.demo import DemoSection, Table
from quartet.core.io import atomic_write_text
from quartet.report.pipeline import SystemOutcome


def format_cell(value: str | float | int | None) -> str:
    """Table cells: floats to 3 decimals, None as a dash.

    >>> format_cell(0.123456), format_cell(None), format_cell(7)
    ('0.123', '—', '7')
    """
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(table: Table) -> str:
    def row(cells) -> str:
        return "| " + " | ".join(format_cell(c).replace("|", "\\|") for c in cells) + " |"

    lines = [f"**{table.title}**", "", row(table.columns), "|" + "---|" * len(table.columns)]
    return "\n".join(lines + [row(r) for r in table.rows])


def _relative(path: str | Path, start: Path) -> str:
    return os.path.relpath(Path(path).resolve(), start.resolve())


def machine_summary() -> str:
    """The machine a report was computed on, in one line (the numbers depend on it)."""
    from quartet.core.runs import environment

    env = environment()
    memory = f", {env['memory_gib']:.0f} GiB" if env["memory_gib"] is not None else ""
    return f"{env['cpu_count']} CPU cores ({env['cpu']}){memory}, {env['cuda'] or 'no GPU'}; torch {env['torch']}"


def _generated() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine_summary()}"


def render_markdown(outcomes: list[SystemOutcome], out_dir: Path) -> str:
    parts = ["# quartet demo report", "", f"Generated {_generated()}.", ""]
    for outcome in outcomes:
        section = outcome.section
        if section is None:
            parts += [f"## {outcome.system}", "", _status_line(outcome), ""]
            continue
        parts += [f"## {section.title}", "", "| the paper reports | this run found |", "|---|---|",
                  f"| {section.paper_reports} | {section.this_run_found} |", "",
                  f"Seeds: {', '.join(map(str, section.seeds)) or '—'}; run time: {section.seconds:.0f} s.", ""]
        for table in section.tables:
            parts += [markdown_table(table), ""]
        for figure in section.figures:
            parts += [f"![{figure.title}]({_relative(figure.path, out_dir)})", ""]
        for example in section.examples:
            parts += [f"**{example.title}**", "", "```text", example.text, "```", ""]
        if section.run_dirs:
            parts += ["Runs: " + ", ".join(f"[{Path(d).name}]({_relative(d, out_dir)})" for d in section.run_dirs), ""]
    return "\n".join(parts)


def _status_line(outcome: SystemOutcome) -> str:
    if outcome.status == "not built":
        return "Not built yet: this system has no demo in this version of quartet."
    return f"Failed: {outcome.error}. Rerun `quartet demo` to resume after fixing the cause."


def _embed_png(path: str) -> str | None:
    file = Path(path)
    if not file.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(file.read_bytes()).decode("ascii")


def render_html(outcomes: list[SystemOutcome], out_dir: Path) -> str:
    env = Environment(loader=PackageLoader("quartet.report"), autoescape=select_autoescape(["html"]))
    env.filters["cell"] = format_cell
    env.filters["embed"] = _embed_png
    env.filters["relative"] = lambda p: _relative(p, out_dir)
    return env.get_template("report.html").render(
        outcomes=outcomes, status_line=_status_line, generated=_generated()
    )


def write_report(outcomes: list[SystemOutcome], out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``out_dir``; returns their paths."""
    html_path, md_path = out_dir / "report.html", out_dir / "report.md"
    atomic_write_text(html_path, render_html(outcomes, out_dir))
    atomic_write_text(md_path, render_markdown(outcomes, out_dir))
    return html_path, md_path


def load_saved_sections(root: Path, systems: list[str]) -> list[SystemOutcome]:
    """Outcomes from the ``section.json`` files of an earlier run (for ``--render-only``)."""
    outcomes = []
    for system in systems:
        saved = root / system / "section.json"
        if saved.is_file():
            outcomes.append(SystemOutcome(system, "done", DemoSection.load(saved)))
        else:
            outcomes.append(SystemOutcome(system, "failed", error="no finished run to render"))
    return outcomes
