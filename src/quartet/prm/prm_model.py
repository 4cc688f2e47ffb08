"""The PRM as a causal language model: a step tag after each step, two reward tokens.

Input text: the prompt, then every step followed by `` <tag>`` (``RewardSpec``: the step tag
and reward tokens are settings, "<step>", "+" and "-" by default). At each tag position the
model's next-token logits over the two reward tokens are
softmaxed, and the loss is the cross-entropy with the target ``(label, 1 - label)``,
so soft and entropy-regularized labels train the same head as hard ones. A step with
label ``None`` (earlier steps of ORM data) carries no loss.

The value-head variant (``ValueHeadPRM``) puts a linear head on the final hidden state
at each tag and trains it with BCE against the same soft target.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from quartet.core.io import atomic_write_json
from quartet.core.records import BadRecordError
from quartet.lm.protocol import TextTokenizer

DEFAULT_TAG = "<step>"
GOOD, BAD = "+", "-"
SPEC_FILE = "prm.json"  # next to a trained PRM: the tag and reward tokens it was trained with


@dataclass(frozen=True)
class RewardSpec:
    """The step tag and the two reward tokens as text (``prm.step_tag``, ``prm.good_token``,
    ``prm.bad_token``; ``--step-tag`` etc. on ``processbench``)."""

    tag: str = DEFAULT_TAG  # written after every step; the PRM is read at each occurrence
    good: str = GOOD  # its next-token probability (against ``bad``) is P(step is right)
    bad: str = BAD  # the other reward token

    def save(self, directory: Path | str) -> None:
        atomic_write_json(Path(directory) / SPEC_FILE, {"step_tag": self.tag, "good_token": self.good,
                                                        "bad_token": self.bad})

    @classmethod
    def load(cls, directory: Path | str) -> RewardSpec:
        """The spec saved with a PRM; the defaults for a folder without one (a PRM from elsewhere)."""
        path = Path(directory) / SPEC_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BadRecordError(path, None, None, f"not valid JSON ({err})") from None
        values = []
        for name in ("step_tag", "good_token", "bad_token"):
            if not isinstance(data, dict) or not isinstance(data.get(name), str):
                raise BadRecordError(path, None, name, "missing or not a string")
            values.append(data[name])
        return cls(*values)


_WHERE = {"step tag": "prm.step_tag / --step-tag", "good token": "prm.good_token / --good-token",
          "bad token": "prm.bad_token / --bad-token"}


def _pieces(tokenizer: TextTokenizer, text: str) -> list[str]:
    return [tokenizer.decode([i]) for i in tokenizer.encode(text)]


def step_tag_id(tokenizer: TextTokenizer, tag: str) -> int | None:
    """The id of ``tag`` as ``prm_text`` writes it (after a space), or None when it is not one token there.

    Looked up in context rather than in the vocabulary: byte-level BPE may hold both "ки" and
    "Ġки", and only the one the text encodes to marks the scoring positions.
    """
    ids = tokenizer.encode("x " + tag)
    return ids[-1] if tag.strip() and ids and tokenizer.decode(ids[-1:]).strip() == tag.strip() else None


def reward_token_id(tokenizer: TextTokenizer, token: str) -> int | None:
    """A vocabulary entry spelled ``token`` (so "▁+" or "Ġ+" picks a space-prefixed variant),
    else the one token that ``" " + token`` encodes to after the space; None when neither exists."""
    tid = tokenizer.token_to_id(token)
    if tid is not None:
        return tid
    enc = tokenizer.encode(" " + token)
    if enc and tokenizer.decode(enc[-1:]).strip() == token and not tokenizer.decode(enc[:-1]).strip():
        return enc[-1]
    return None


@dataclass(frozen=True)
class RewardTokens:
    """Token ids of the step tag and of the two reward tokens in one tokenizer."""

    tag: int
    good: int
    bad: int

    @classmethod
    def resolve(cls, tokenizer: TextTokenizer, spec: RewardSpec | None = None) -> RewardTokens:
        """Ids of ``spec``'s texts; a text that is not one token is an error naming its setting."""
        spec = spec or RewardSpec()
        ids = [step_tag_id(tokenizer, spec.tag), reward_token_id(tokenizer, spec.good),
               reward_token_id(tokenizer, spec.bad)]
        for (what, text), tid in zip((("step tag", spec.tag), ("good token", spec.good), ("bad token", spec.bad)),
                                     ids, strict=True):
            if tid is None:
                pieces = _pieces(tokenizer, " " + text)
                raise ValueError(f"the {what} {text!r} ({_WHERE[what]}) is not one token of this tokenizer "
                                 f"(' ' + it encodes to {len(pieces)} tokens: {pieces}); the PRM reads one token "
                                 "there: pick a text that is a single token")
        if len(set(ids)) != 3:
            raise ValueError(f"step tag and reward tokens must be distinct tokens, got ids {ids} for "
                             f"{[spec.tag, spec.good, spec.bad]}")
        return cls(*ids)


def prm_text(prompt: str, steps: Sequence[str], tag: str = DEFAULT_TAG) -> str:
    """The PRM's view of a solution.

    Steps are separated by the tag and a space, not a newline: a word-level tokenizer then
    never sees a newline glued to the special token (which it would map to <unk>).

    >>> prm_text("Q\\n", ["1 + 1 = 2", "The answer is 2"])
    'Q\\n1 + 1 = 2 <step> The answer is 2 <step>'
    """
    # A sampled step may itself contain the tag text; it must not add a scoring position.
    return prompt + " ".join(f"{s.replace(tag, ' ').strip()} {tag}" for s in steps)


def encode_prm(tokenizer: TextTokenizer, tokens: RewardTokens, prompt: str, steps: Sequence[str],
               labels: Sequence[float | None], max_len: int) -> dict[str, Any]:
    """ids of the PRM text, the positions of its tags and the target per tag (NaN: no loss)."""
    if not steps:
        raise ValueError("a solution with no steps has nothing to label")
    if len(labels) != len(steps):
        raise ValueError(f"{len(labels)} labels for {len(steps)} steps")
    ids = tokenizer.encode(prm_text(prompt, steps, tokenizer_tag(tokenizer, tokens)), add_bos=True)
    if len(ids) > max_len:
        raise ValueError(f"PRM input of {len(ids)} tokens exceeds max_len {max_len}")
    positions = [i for i, t in enumerate(ids) if t == tokens.tag]
    if len(positions) != len(steps):
        raise ValueError(f"found {len(positions)} step tags for {len(steps)} steps (does a step contain the tag?)")
    targets = [float("nan") if x is None else float(x) for x in labels]
    return {"input_ids": ids, "positions": positions, "targets": targets}


def tokenizer_tag(tokenizer: TextTokenizer, tokens: RewardTokens) -> str:
    return tokenizer.decode([tokens.tag]).strip()


def collate_prm(items: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ids (B, T) and flat (row, position, target) triples of every tag."""
    width = max(len(it["input_ids"]) for it in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    rows, cols, targets = [], [], []
    for r, it in enumerate(items):
        ids[r, : len(it["input_ids"])] = torch.tensor(it["input_ids"])
        mask[r, : len(it["input_ids"])] = 1
        for p, t in zip(it["positions"], it["targets"], strict=True):
            if t == t:  # NaN: unlabelled step
                rows.append(r)
                cols.append(p)
                targets.append(t)
    return {"input_ids": ids, "attention_mask": mask, "rows": torch.tensor(rows, dtype=torch.long),
            "cols": torch.tensor(cols, dtype=torch.long), "targets": torch.tensor(targets)}


def reward_loss(tokens: RewardTokens):
    """``loss_fn(module, batch)`` for the trainer: CE over {+, -} at every labelled tag."""
    pair = torch.tensor([tokens.good, tokens.bad])

    def loss_fn(module: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        logits = module(batch["input_ids"], attention_mask=batch["attention_mask"])  # (B, T, V)
        at_tags = logits[batch["rows"], batch["cols"]][:, pair.to(logits.device)].float()  # (N, 2)
        logp = F.log_softmax(at_tags, -1)
        target = batch["targets"].float()
        loss = -(target * logp[:, 0] + (1 - target) * logp[:, 1]).mean()
        with torch.no_grad():
            acc = ((logp[:, 0].exp() >= 0.5) == (target >= 0.5)).float().mean().item()
        return loss, {"tag_acc": acc, "tags": float(target.numel())}

    return loss_fn


class ValueHeadPRM(nn.Module):
    """A causal LM with a linear value head on the final hidden state (regression-head PRMs).

    The hidden state is read through the LM's ``hidden_transform`` hook, so any backend
    that implements the protocol works. ``forward`` returns per-position values (B, T).
    """

    def __init__(self, lm: Any, dim: int):
        super().__init__()
        self.lm_module = lm.module
        self._lm = lm
        self.head = nn.Linear(dim, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        seen: list[torch.Tensor] = []

        def keep(h: torch.Tensor) -> torch.Tensor:  # h: (B, T, D)
            seen.append(h)
            return h

        with self._lm.hidden_transform(keep):
            self.lm_module(input_ids, attention_mask=attention_mask)
        return self.head(seen[-1].float()).squeeze(-1)  # (B, T)


def value_loss(module: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    values = module(batch["input_ids"], attention_mask=batch["attention_mask"])  # (B, T)
    logits = values[batch["rows"], batch["cols"]]
    loss = F.binary_cross_entropy_with_logits(logits, batch["targets"].float())
    return loss, {"tags": float(logits.numel())}
