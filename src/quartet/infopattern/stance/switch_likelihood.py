"""Switch-likelihood stance (InfoPattern's own scoring): which switch value explains a message best?

A message's log-likelihood under the frozen LM with the switch at each of five values
s ∈ (−1, −½, 0, ½, 1) gives, through a softmax of the negative losses, a distribution over
the stance bins ``anti, lean anti, center, lean pro, pro`` (the loss is the message's total
negative log-likelihood, so the softmax is the posterior over bins under a uniform prior).
``evidence_spans`` finds the token runs where the loss under +s and under −s differ most.

``fit`` learns how the bins map to a data set's labels (favor/against/none, SDQC, …): a
multinomial logistic regression on the row-centred bin log-likelihoods, standardised.
The LM and switch are referenced by path in ``detector.json``; the head is safetensors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from quartet.core.progress import progress
from quartet.infopattern.messages import Message
from quartet.infopattern.prompts import DEFAULT_TEMPLATE, message_prompt, parent_texts
from quartet.infopattern.stance.base import (
    argmax_labels,
    check_fit_input,
    gold_labels,
    read_detector_json,
    write_detector_json,
)
from quartet.infopattern.stance.linear_head import fit_linear_head
from quartet.infopattern.switch import (
    LMSwitch,
    axis_value,
    fit_to_context,
    switch_meta,
    switch_templates,
    token_logprobs,
)
from quartet.lm.protocol import LanguageModel
from quartet.lm.scoring import split_continuation

log = logging.getLogger(__name__)

BIN_VALUES = (-1.0, -0.5, 0.0, 0.5, 1.0)
BIN_NAMES = ("anti", "lean anti", "center", "lean pro", "pro")


@dataclass(frozen=True)
class EvidenceSpan:
    """A run of tokens whose likelihood moves most between the two sides of the switch."""

    start: int  # first token (index into the message's tokens)
    end: int  # one past the last token
    text: str  # the tokens decoded
    score: float  # Σ log p(token | +s) − log p(token | −s) over the run; > 0 reads as the pro side
    side: str  # "pro" or "anti"


def best_runs(diff: Sequence[float], n: int, max_width: int = 3) -> list[tuple[int, int, float]]:
    """The ``n`` non-overlapping windows of 1…``max_width`` tokens with the largest |Σ diff|, in text order.

    >>> best_runs([0.1, 2.0, 1.5, 0.2, -3.0, 0.0], n=2, max_width=2)
    [(1, 3, 3.5), (4, 5, -3.0)]
    """
    windows = [
        (start, start + w, float(sum(diff[start : start + w])))
        for w in range(1, max_width + 1)
        for start in range(0, len(diff) - w + 1)
    ]
    # Stronger first; among equal strengths the shorter window (a tighter piece of evidence).
    windows.sort(key=lambda x: (-abs(x[2]), x[1] - x[0], x[0]))
    taken: list[tuple[int, int, float]] = []
    for start, end, score in windows:
        if len(taken) == n:
            break
        if abs(score) > 0 and all(end <= a or start >= b for a, b, _ in taken):
            taken.append((start, end, round(score, 6)))
    return sorted(taken)


def evidence_spans(
    lm: LanguageModel, switch: LMSwitch, prompt: str, text: str, n: int = 2, max_width: int = 3,
    s: float = 1.0, dim: int | None = None,
) -> list[EvidenceSpan]:
    """Evidence in ``text`` (written after ``prompt``) for one side of the switch against the other
    (on dimension ``dim`` of a several-dimension switch; None: every dimension at once)."""
    prompt, text = fit_to_context(lm, prompt, text)
    plus = token_logprobs(lm, switch, axis_value(switch, s, dim), [prompt], [text])[0]
    minus = token_logprobs(lm, switch, axis_value(switch, -s, dim), [prompt], [text])[0]
    _, ids = split_continuation(lm.tokenizer, prompt, text)
    diff = [a - b for a, b in zip(plus, minus, strict=True)]
    return [
        EvidenceSpan(a, b, lm.tokenizer.decode(ids[a:b]).strip(), score, "pro" if score > 0 else "anti")
        for a, b, score in best_runs(diff, n, max_width)
    ]


def char_offsets(text: str, pieces: Sequence[str]) -> list[tuple[int, int] | None]:
    """``(start, end)`` of each decoded piece in ``text``, searched left to right, case-insensitive and
    with any run of spaces matching any other (tokenizers re-space text); None where not found.

    >>> char_offsets("The plant is  SAFE, and clean", ["is safe", "clean", "missing"])
    [(10, 18), (24, 29), None]
    """
    out: list[tuple[int, int] | None] = []
    pos = 0
    for piece in pieces:
        words = piece.split()
        if not words:
            out.append(None)
            continue
        pattern = re.compile(r"\s*".join(re.escape(w) for w in words), re.IGNORECASE)
        found = pattern.search(text, pos) or pattern.search(text)
        out.append((found.start(), found.end()) if found else None)
        if found:
            pos = found.end()
    return out


def whole_words(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Character spans widened to the words they touch (a subword token marks its whole word for
    a reader), overlapping ones merged, in text order.

    >>> text = "We should ban gambling now"
    >>> [text[a:b] for a, b in whole_words(text, [(10, 15), (17, 22)])]
    ['ban gambling']
    """
    widened = []
    for start, end in sorted(spans):
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        if widened and start <= widened[-1][1]:
            widened[-1] = (widened[-1][0], max(end, widened[-1][1]))
        else:
            widened.append((start, end))
    return widened


class SwitchLikelihoodStance:
    """Stance from the LM loss under several switch values; the LM and the switch are given by path."""

    kind = "switch"

    def __init__(
        self,
        lm_path: str,
        switch_path: str,
        values: Sequence[float] = BIN_VALUES,
        temperature: float = 1.0,
        l2: float = 1e-2,
        n_spans: int = 2,
        dim: int = 0,
        batch_size: int = 256,
        lm: LanguageModel | None = None,
        switch: LMSwitch | None = None,
    ):
        self.lm_path, self.switch_path, self.values = str(lm_path), str(switch_path), tuple(float(v) for v in values)
        self.temperature, self.l2, self.n_spans, self.dim, self.batch_size = temperature, l2, n_spans, dim, batch_size
        self._lm, self._switch = lm, switch
        has_meta = (Path(switch_path) / "switch.json").is_file()
        # The prompts the switch was trained with (a reply after its parent's text, else the topic alone).
        self.template, self.reply_template = switch_templates(switch_meta(switch_path)) if has_meta else (
            DEFAULT_TEMPLATE, "")

    def _params(self) -> dict[str, Any]:
        return {"lm_path": self.lm_path, "switch_path": self.switch_path, "values": list(self.values),
                "temperature": self.temperature, "l2": self.l2, "n_spans": self.n_spans, "dim": self.dim,
                "batch_size": self.batch_size}

    @property
    def lm(self) -> LanguageModel:
        if self._lm is None:
            from quartet.lm.backends import load_lm

            self._lm = load_lm(self.lm_path)
        return self._lm

    @property
    def switch(self) -> LMSwitch:
        if self._switch is None:
            self._switch = LMSwitch.load(self.switch_path)
        return self._switch

    def _s(self, value: float) -> list[float]:
        vec = [0.0] * self.switch.n_dims
        vec[self.dim] = value
        return vec

    @torch.no_grad()
    def bin_loglik(self, messages: Sequence[Message], parents: dict[str, str] | None = None) -> np.ndarray:
        """(N, len(values)): each message's total log-likelihood with the switch at each value.

        A message is scored as a reply to ``parents[id]`` (default: its parent's text when the parent
        is among ``messages``), as in training; the others after their topic alone."""
        out = np.zeros((len(messages), len(self.values)), dtype=np.float64)
        parents = (parent_texts(messages) if parents is None else parents) if self.reply_template else {}
        for start in progress(range(0, len(messages), self.batch_size), desc="switch scoring", unit="batch"):
            chunk = messages[start : start + self.batch_size]
            prompts = [message_prompt(m, self.template, parents.get(m.id), self.reply_template) for m in chunk]
            texts = [" " + m.text for m in chunk]
            for j, value in enumerate(self.values):
                lps = token_logprobs(self.lm, self.switch, self._s(value), prompts, texts)
                out[start : start + len(chunk), j] = [sum(lp) for lp in lps]
        return out

    def bin_proba(self, messages: Sequence[Message], parents: dict[str, str] | None = None) -> np.ndarray:
        """(N, 5) distribution over ``BIN_NAMES``: the softmax of the negative losses."""
        z = self.bin_loglik(messages, parents) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _features(self, loglik: np.ndarray) -> torch.Tensor:
        centred = loglik - loglik.mean(axis=1, keepdims=True)
        return torch.tensor((centred - self.mean_) / self.scale_, dtype=torch.float32)

    def fit(self, messages: Sequence[Message], y: Sequence[str] | None = None) -> SwitchLikelihoodStance:
        labels = gold_labels(messages, y)
        self.classes_ = check_fit_input(messages, labels)
        loglik = self.bin_loglik(messages)
        centred = loglik - loglik.mean(axis=1, keepdims=True)
        self.mean_ = centred.mean(axis=0)
        self.scale_ = centred.std(axis=0) + 1e-6
        target = torch.tensor([self.classes_.index(v) for v in labels])
        self.head_ = fit_linear_head(self._features(loglik), target, len(self.classes_), self.l2)
        return self

    @torch.no_grad()
    def predict_proba(self, messages: Sequence[Message]) -> np.ndarray:
        if not messages:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        return torch.softmax(self.head_(self._features(self.bin_loglik(messages))), dim=1).numpy()

    def predict(self, messages: Sequence[Message]) -> list[str]:
        return argmax_labels(self.predict_proba(messages), self.classes_)

    def explain(self, message: Message, parent: str | None = None) -> dict[str, Any]:
        """Bin distribution, the most likely bin, and evidence spans for one message (a reply to
        ``parent`` when given). A span's ``start``/``end`` index the message's tokens, ``char_start`` /
        ``char_end`` are offsets into ``message.text`` (None when the decoded piece is not found there)."""
        bins = self.bin_proba([message], {message.id: parent} if parent else {})[0]
        prompt = message_prompt(message, self.template, parent, self.reply_template)
        spans = evidence_spans(self.lm, self.switch, prompt, " " + message.text, self.n_spans,
                               s=max(abs(v) for v in self.values), dim=self.dim)
        offsets = char_offsets(message.text, [sp.text for sp in spans])
        return {"bins": dict(zip(BIN_NAMES, map(float, bins), strict=False)) if len(bins) == 5 else bins.tolist(),
                "bin": BIN_NAMES[int(bins.argmax())] if len(bins) == 5 else int(bins.argmax()),
                "evidence": [{**asdict(sp), "char_start": at[0] if at else None, "char_end": at[1] if at else None}
                             for sp, at in zip(spans, offsets, strict=True)]}

    def evidence(self, messages: Sequence[Message]) -> list[list[tuple[int, int]]]:
        """Each message's evidence spans (``explain``) as ``(start, end)`` character offsets into its
        text, widened to whole words; a decoded piece that cannot be found in the text is left out."""
        return [whole_words(m.text, [(span["char_start"], span["char_end"]) for span in self.explain(m)["evidence"]
                                     if span["char_start"] is not None]) for m in messages]

    def save(self, directory: Path | str) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {"weight": self.head_.weight.detach().contiguous(), "bias": self.head_.bias.detach().contiguous(),
                   "mean": torch.tensor(self.mean_, dtype=torch.float64),
                   "scale": torch.tensor(self.scale_, dtype=torch.float64)}
        save_file(tensors, str(directory / "head.safetensors"))
        write_detector_json(directory, self.kind, self._params(), {"classes_": self.classes_})

    @classmethod
    def load(cls, directory: Path | str) -> SwitchLikelihoodStance:
        directory = Path(directory)
        meta = read_detector_json(directory, cls.kind)
        self = cls(**meta["params"])
        self.classes_ = list(meta["learned"]["classes_"])
        state = load_file(str(directory / "head.safetensors"))
        expected = {"weight", "bias", "mean", "scale"}
        if set(state) != expected:
            raise ValueError(f"{directory}/head.safetensors: expected {sorted(expected)}, got {sorted(state)}")
        self.head_ = nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
        self.head_.load_state_dict({"weight": state["weight"], "bias": state["bias"]})
        self.mean_, self.scale_ = state["mean"].numpy(), state["scale"].numpy()
        if self.head_.out_features != len(self.classes_) or self.head_.in_features != len(self.values):
            raise ValueError(f"{directory}: head shape does not match {len(self.values)} values / classes")
        return self
