"""Progress bars for loops a person waits for; silent when stderr is not a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def bars_enabled() -> bool:
    if os.environ.get("QUARTET_PROGRESS") == "1":
        return True
    return sys.stderr.isatty() and os.environ.get("QUARTET_PROGRESS") != "0"


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when a person is watching."""
    return iter(tqdm(iterable, desc=desc, total=total, unit=unit, disable=not bars_enabled(), leave=False))


def progress_bar(total: int, desc: str, unit: str = "it") -> tqdm:
    """A manual bar (``.update(n)``) for loops that are not a plain iteration."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not bars_enabled(), leave=False)
