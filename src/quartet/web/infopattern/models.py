"""The red-teaming model behind the web page: a base LM with a trained LM-Switch from a run folder.

``SwitchRedTeam`` adapts ``quartet.infopattern.redteam.generate_responses`` to the web's
``RedTeamModel`` protocol. The switch writes about a topic (its prompt is
``topic : <target> . message :``), so the typed message fills the topic prompt's target;
s = -1 writes as the community against the topic, +1 as the one for it.
Evidence comes back as token runs; they are turned into character offsets of the response
by finding each run's decoded text in order (a run that cannot be found is dropped).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def char_spans(text: str, pieces: list[str]) -> list[list[int]]:
    """``[start, end)`` of each piece in ``text``, searched left to right (case-insensitive).

    >>> char_spans("the plant is safe and clean", ["is safe", "clean", "missing"])
    [[10, 17], [22, 27]]
    """
    out, pos, lower = [], 0, text.lower()
    for piece in pieces:
        piece = piece.strip().lower()
        if not piece:
            continue
        at = lower.find(piece, pos)
        if at < 0:
            at = lower.find(piece)
        if at >= 0:
            out.append([at, at + len(piece)])
            pos = at + len(piece)
    return sorted(out)


class SwitchRedTeam:
    """K responses at switch value s from a saved switch and its base LM (one generation at a time)."""

    communities = {"against the topic": -1.0, "for the topic": 1.0}

    def __init__(self, lm: Any, switch: Any, template: str, max_new_tokens: int = 40, temperature: float = 1.0,
                 top_k: int = 40):
        self.lm, self.switch, self.template = lm, switch, template
        self.max_new_tokens, self.temperature, self.top_k = max_new_tokens, temperature, top_k
        self._lock = threading.Lock()  # the LM's hidden-state hook is shared state

    @classmethod
    def load(cls, switch_dir: Path) -> SwitchRedTeam:
        from quartet.infopattern.switch import DEFAULT_TEMPLATE, LMSwitch, switch_meta
        from quartet.lm.backends import load_lm

        meta = switch_meta(switch_dir)
        base = meta.get("base_model")
        if not base or not Path(base).exists():
            raise FileNotFoundError(f"{switch_dir}: the base model {base!r} named in switch.json is not there")
        return cls(load_lm(base, device="cpu"), LMSwitch.load(switch_dir), meta.get("template", DEFAULT_TEMPLATE))

    def generate(self, message: str, stance: float, k: int) -> list[dict[str, Any]]:
        from quartet.infopattern.messages import Message
        from quartet.infopattern.redteam import generate_responses
        from quartet.lm.protocol import SamplingParams

        source = Message(id="web", text=message, target=" ".join(message.split())[:300])
        params = SamplingParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_k=self.top_k)
        with self._lock:
            [responses] = generate_responses(self.lm, self.switch, [source], [stance], k, params, self.template,
                                             with_evidence=True)
        return [{"text": r.text, "evidence": char_spans(r.text, [e["text"] for e in r.evidence])}
                for r in responses]


def find_switch(runs: Path) -> Path | None:
    """The first saved switch (``switch.json``) under ``runs``, in path order."""
    for path in sorted(runs.glob("**/switch/switch.json")):
        return path.parent
    return None
