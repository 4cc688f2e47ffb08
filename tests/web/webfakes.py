"""Tiny fake models for the web app and a graph built from hand-made messages.

A uniquely named module (not conftest) so tests import it unambiguously when several
test folders, each with its own conftest, are collected together.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime

import numpy as np

from quartet.infopattern.graph import GraphConfig, build_graph_for_messages
from quartet.infopattern.messages import Message


class FakeStance:
    """'good' pushes toward favor, 'bad' toward against; the evidence is where those words are."""

    bins = ["against", "neutral", "favor"]

    def __init__(self):
        self.calls = 0

    def analyze(self, texts, target):
        self.calls += 1
        out = []
        for text in texts:
            good, bad = text.lower().count("good"), text.lower().count("bad")
            scores = np.array([bad, 0.5, good], dtype=float)
            probs = np.exp(scores) / np.exp(scores).sum()
            spans = [[m.start(), m.end()] for m in re.finditer(r"good|bad", text, re.IGNORECASE)]
            out.append({"probs": probs.tolist(), "evidence": spans})
        return out


class FakeRedTeam:
    communities = {"left": -1.0, "right": 1.0}

    def generate(self, message, stance, k, target=None):
        about = f" on {target}" if target else ""
        return [{"text": f"reply {i} at {stance:+.1f}{about}: not {message}", "evidence": [[0, 5]]} for i in range(k)]


class HashEmbedder:
    """Bag of hashed words: texts sharing words are similar (deterministic, instant)."""

    def encode(self, texts):
        out = np.zeros((len(texts), 256))
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]{3,}", text.lower()):
                if word not in ("the", "again", "today", "and"):
                    out[i, zlib.crc32(word.encode()) % 256] += 1.0
        return out


def day(d: int) -> datetime:
    return datetime(2024, 5, d, 12, tzinfo=UTC)


XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def demo_messages() -> list[Message]:
    return [
        Message("m1", "The alpha plant is leaking badly today.", "A", "left", created_at=day(1)),
        Message("m2", "Officials deny the beta report entirely.", "B", "right", created_at=day(2)),
        Message("m3", "The alpha plant is leaking again.", "C", "right", created_at=day(3), parent_id="m1"),
        Message("m4", "Officials deny the beta report again. " + XSS, "A", "left", created_at=day(4)),
    ]


def demo_graph() -> dict:
    return build_graph_for_messages(demo_messages(), HashEmbedder(), GraphConfig(threshold=0.6, min_weight=0.0))
