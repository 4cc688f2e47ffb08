"""Stance detectors behind one scikit-learn-style interface, their metrics, and save/load.

``DETECTORS`` maps a name to its class (a plain dict; no registry). ``load_detector(dir)``
reads ``detector.json`` and dispatches on its ``kind``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quartet.infopattern.stance.base import StanceDetector, read_detector_json
from quartet.infopattern.stance.encoder import EncoderStance
from quartet.infopattern.stance.metrics import stance_metrics
from quartet.infopattern.stance.tfidf import TfidfStance

DETECTORS: dict[str, Any] = {"tfidf": TfidfStance, "encoder": EncoderStance}


def load_detector(directory: Path | str) -> StanceDetector:
    kind = read_detector_json(directory)["kind"]
    if kind == "switch":
        # Imported lazily: the switch detector pulls in the language-model stack.
        from quartet.infopattern.stance.switch_likelihood import SwitchLikelihoodStance

        return SwitchLikelihoodStance.load(directory)
    if kind not in DETECTORS:
        raise ValueError(f"{directory}: unknown detector kind {kind!r} (known: {sorted(DETECTORS) + ['switch']})")
    return DETECTORS[kind].load(directory)


__all__ = ["DETECTORS", "EncoderStance", "StanceDetector", "TfidfStance", "load_detector", "stance_metrics"]
