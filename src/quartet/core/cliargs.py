"""Argument helpers shared by every system's ``cli.py``, so all verbs read configs the same way."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeVar

from quartet.core.config import load_config

T = TypeVar("T")


def add_verb(verbs: Any, name: str, handler: Any, help_text: str, example: str) -> argparse.ArgumentParser:
    """Add a verb whose ``--help`` ends with a runnable example."""
    parser = verbs.add_parser(
        name, help=help_text, description=help_text, epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def add_config_args(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--config FILE`` plus any number of ``key.sub=value`` overrides."""
    parser.add_argument("--config", type=Path, default=default, help=f"YAML config (default: {default})")
    parser.add_argument(
        "overrides", nargs="*", metavar="key.sub=value", help="override config fields, e.g. train.lr=3e-4"
    )


def config_from_args(cls: type[T], args: argparse.Namespace) -> T:
    return load_config(cls, args.config, args.overrides)
