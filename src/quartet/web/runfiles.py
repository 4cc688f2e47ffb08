"""Small helpers shared by the pages that load a model from a finished run.

Reading a run's ``config.yaml`` is tolerant on purpose (a plain dict with defaults): the web
app must keep serving runs written by an older or newer version of a system's config.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def run_config(run_dir: Path) -> dict[str, Any]:
    """The run's resolved ``config.yaml`` as a dict; ``{}`` when it is missing or unreadable."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        log.warning("%s: %s; using defaults", path, err)
        return {}
    return data if isinstance(data, dict) else {}


def setting(cfg: dict[str, Any], dotted: str, default: Any) -> Any:
    """``cfg["a"]["b"]`` for ``"a.b"``, or ``default`` when any part is missing.

    >>> setting({"rollout": {"k": 4}}, "rollout.k", 1), setting({}, "rollout.k", 1)
    (4, 1)
    """
    node: Any = cfg
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def display_path(path: Path, runs: Path | None) -> str:
    """``path`` relative to the runs folder when it is inside it (what a page shows)."""
    try:
        return Path(path).resolve().relative_to(Path(runs).resolve()).as_posix() if runs else Path(path).name
    except ValueError:
        return Path(path).name


def unknown_words(tokenizer: Any, text: str, limit: int = 20) -> list[str]:
    """Words of ``text`` the tokenizer maps to ``<unk>`` (a word-level vocabulary knows only its
    training texts, so a page says which words the model cannot read).

    Tokenizers without an ``<unk>`` token (byte-level BPE) know every word: ``[]``.
    """
    unk = tokenizer.token_to_id("<unk>") if hasattr(tokenizer, "token_to_id") else None
    if unk is None:
        return []
    out: list[str] = []
    for word in dict.fromkeys(text.split()):
        if unk in tokenizer.encode(word):
            out.append(word)
            if len(out) >= limit:
                break
    return out


class LazyModels:
    """Models by name, each loaded on first use and then kept (one lock: torch models are not
    re-entrant under the app's thread pool, and a tiny CPU model gains nothing from concurrency)."""

    def __init__(self, loaders: dict[str, Callable[[], Any]]):
        self.loaders = dict(loaders)
        self.loaded: dict[str, Any] = {}
        self.lock = threading.RLock()

    def names(self) -> list[str]:
        return list(self.loaders)

    def get(self, name: str) -> Any:
        with self.lock:
            if name not in self.loaded:
                self.loaded[name] = self.loaders[name]()
            return self.loaded[name]
