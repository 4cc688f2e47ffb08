"""``quartet demo``: every system end to end on the embedded scale, then the report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from quartet.report import pipeline


def _announce(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} demo {message}", file=sys.stderr, flush=True)


def demo(args: argparse.Namespace) -> int:
    from quartet.report.pipeline import run_demo_systems
    from quartet.report.render import load_saved_sections, write_report

    systems = args.systems.split(",") if args.systems else list(pipeline.DEMO_MODULES)  # read now, not at import
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render_only:
        outcomes = load_saved_sections(args.out, systems)
    else:
        outcomes = run_demo_systems(args.out, systems, _announce)
    html_path, md_path = write_report(outcomes, args.out)
    for outcome in outcomes:
        detail = f": {outcome.error}" if outcome.error else ""
        print(f"  {outcome.system:<12} {outcome.status}{detail}")
    print(f"report: {html_path.resolve()}\n        {md_path.resolve()}")
    print(f"explore it: quartet serve --runs {args.out}")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def register(subparsers, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(
        name, help=help_text, description=help_text + ". A rerun skips finished stages.",
        epilog="example:\n  quartet demo\n  quartet demo --systems prm,denoise --out runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="where runs and the report go")
    parser.add_argument("--systems", default="", help=f"comma-separated subset of {','.join(pipeline.DEMO_MODULES)}")
    parser.add_argument("--render-only", action="store_true", help="re-render the report from finished runs")
    parser.set_defaults(handler=demo)
