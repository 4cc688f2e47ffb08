"""What each system hands to the demo report: one ``DemoSection``.

A system's ``quartet.<system>.demo.run_demo(root)`` runs its pipeline on the
embedded scale under ``root`` (resumable: finished stages are skipped), then
returns a section. The report (``quartet.report``) renders sections to HTML and
Markdown; it never imports a system's internals, and systems never import the
report, so this plain-data contract sits in ``core``.

Sections are saved as JSON next to the runs, so that re-rendering the report
needs no recomputation.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from quartet.core.io import atomic_write_text


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str | float | int | None]]


@dataclass
class Figure:
    title: str
    path: str  # a PNG file; the report embeds it


@dataclass
class Example:
    title: str
    text: str  # plain text: the report escapes it
    # Optional richer view (e.g. steps coloured by score). Built by quartet's own
    # code with every user-derived string escaped; the report inserts it as is.
    html: str | None = None


@dataclass
class DemoSection:
    system: str  # "prm", "refusal", "infopattern", "denoise"
    title: str
    paper_reports: str  # what the paper reports, in one paragraph
    this_run_found: str  # what this run found, in one paragraph, with numbers
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    run_dirs: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def save(self, path: Path) -> None:
        atomic_write_text(Path(path), json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> DemoSection:
        raw = json.loads(Path(path).read_text())
        return cls(
            **{k: v for k, v in raw.items() if k not in ("tables", "figures", "examples")},
            tables=[Table(**t) for t in raw.get("tables", [])],
            figures=[Figure(**f) for f in raw.get("figures", [])],
            examples=[Example(**e) for e in raw.get("examples", [])],
        )
