"""The red-teaming model behind the web page: a base LM with a trained LM-Switch from a run folder.

``SwitchRedTeam`` adapts ``quartet.infopattern.redteam.generate_responses`` to the web's
``RedTeamModel`` protocol. A response answers the typed message: the prompt is the reply
template the switch was trained with, ``topic : <target> . message : <typed message> . reply :``,
where the target is the topic typed on the page (the message itself when none is given);
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
    """``[start, end)`` of each piece in ``text``, searched left to right (case-insensitive; see
    ``switch_likelihood.char_offsets``); pieces not found are dropped.

    >>> char_spans("the plant is safe and clean", ["is safe", "clean", "missing"])
    [[10, 17], [22, 27]]
    """
    from quartet.infopattern.stance.switch_likelihood import char_offsets

    return sorted([a, b] for a, b in filter(None, char_offsets(text, pieces)))


class SwitchRedTeam:
    """K responses at switch value s from a saved switch and its base LM (one generation at a time)."""

    communities = {"against the topic": -1.0, "for the topic": 1.0}

    def __init__(self, lm: Any, switch: Any, template: str, max_new_tokens: int = 40, temperature: float = 1.0,
                 top_k: int = 40, reply_template: str = ""):
        self.lm, self.switch, self.template, self.reply_template = lm, switch, template, reply_template
        self.max_new_tokens, self.temperature, self.top_k = max_new_tokens, temperature, top_k
        self._lock = threading.Lock()  # the LM's hidden-state hook is shared state

    @classmethod
    def load(cls, switch_dir: Path) -> SwitchRedTeam:
        from quartet.infopattern.switch import LMSwitch, switch_meta, switch_templates
        from quartet.lm.backends import load_lm

        meta = switch_meta(switch_dir)
        base = meta.get("base_model")
        if not base or not Path(base).exists():
            raise FileNotFoundError(f"{switch_dir}: the base model {base!r} named in switch.json is not there")
        template, reply_template = switch_templates(meta)
        return cls(load_lm(base, device="cpu"), LMSwitch.load(switch_dir), template, reply_template=reply_template)

    def generate(self, message: str, stance: float, k: int, target: str | None = None) -> list[dict[str, Any]]:
        from quartet.infopattern.messages import Message
        from quartet.infopattern.redteam import generate_responses
        from quartet.lm.protocol import SamplingParams

        topic = " ".join((target or message).split())[:300]
        source = Message(id="web", text=message, target=topic)
        params = SamplingParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_k=self.top_k)
        with self._lock:
            [responses] = generate_responses(self.lm, self.switch, [source], [stance], k, params, self.template,
                                             with_evidence=True, reply_template=self.reply_template)
        return [{"text": r.text, "evidence": char_spans(r.text, [e["text"] for e in r.evidence])}
                for r in responses]


def find_switch(runs: Path) -> Path | None:
    """The first saved switch (``switch.json``) under ``runs``, in path order."""
    for path in sorted(runs.glob("**/switch/switch.json")):
        return path.parent
    return None
