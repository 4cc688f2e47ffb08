"""Red teaming: responses to a message written as the opposite community would, and how well that works.

Backends:

* a ``LanguageModel`` (built-in or Hugging Face) with an ``LMSwitch``: the reply prompt
  ``topic : <target> . message : <source text> . reply :`` (``prompts.REPLY_TEMPLATE``, the one
  the LM and switch were trained with) is continued with the switch at s = −s_source (or any
  value the user picks), K samples that share one prefill; a switch saved without a reply
  template, or a source with no text (red teaming from a topic alone), gets the topic prompt
  ``topic : <target> . message :`` (``prompts.DEFAULT_TEMPLATE``): a new message on the topic;
* ``ChatEndpoint``: any OpenAI-compatible chat server (a base URL from the user) with a
  community persona prompt (a source with no text: a new post on its topic), for those who
  run a large model elsewhere; its replies get evidence spans when a local LM + switch is
  given to score them (``add_evidence``).

Evaluation (``evaluate_redteam``), at several switch magnitudes |s| (|s| = 0 is the
unswitched base model, the control): stance flip rate (share of responses that an
independent detector assigns to the target side), fluency (perplexity under the
unswitched base LM) and diversity (distinct-1/2).
"""

from __future__ import annotations

import html
import json
import logging
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from quartet.infopattern.messages import Message, stance_value
from quartet.infopattern.prompts import DEFAULT_TEMPLATE, REPLY_TEMPLATE, message_prompt
from quartet.infopattern.stance.base import StanceDetector
from quartet.infopattern.stance.metrics import polar_labels
from quartet.infopattern.stance.switch_likelihood import evidence_spans
from quartet.infopattern.switch import LMSwitch, axis_value, fit_to_context, switched, token_logprobs
from quartet.lm.protocol import LanguageModel, SamplingParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    """One red-team response."""

    source_id: str  # the message responded to
    target: str | None  # its topic
    s: float  # switch value used (0 for the base model / a chat endpoint)
    text: str  # the response
    finish_reason: str  # "eos", "stop", "length" (LM) or the endpoint's reason
    evidence: list[dict[str, Any]] = field(default_factory=list)  # spans (see EvidenceSpan), when computed


def target_value(message: Message, label_field: str = "stance") -> float:
    """The side to write as: the opposite of the message's own (+1 for an against-like source)."""
    value = stance_value(getattr(message, label_field))
    if value == 0:
        raise ValueError(f"message {message.id!r}: label {getattr(message, label_field)!r} has no side to oppose")
    return -value


def generate_responses(
    lm: LanguageModel,
    switch: LMSwitch | None,
    sources: Sequence[Message],
    s_values: Sequence[float],
    k: int,
    params: SamplingParams,
    template: str = DEFAULT_TEMPLATE,
    with_evidence: bool = False,
    reply_template: str = REPLY_TEMPLATE,
    dim: int | None = None,
) -> list[list[Response]]:
    """``k`` responses per source, source i written with the switch at ``s_values[i]`` (0: base model).

    Each response answers its source: the prompt is ``reply_template`` with the source's text as
    ``{parent}`` (``reply_template=""`` or a source with empty text: the topic prompt alone). ``dim``
    picks the dimension of a several-dimension switch that ``s`` moves. Sources sharing a value are generated in one batch.
    Generation always ends at ``params.max_new_tokens``.
    """
    if len(sources) != len(s_values):
        raise ValueError(f"{len(sources)} sources but {len(s_values)} switch values")
    if k < 1:
        raise ValueError("k must be at least 1")
    out: list[list[Response]] = [[] for _ in sources]
    for value in sorted(set(s_values)):
        idx = [i for i, v in enumerate(s_values) if v == value]
        # A long topic (a RumourEval source tweet) is shortened so that prompt + generation fit the context.
        prompts = [fit_to_context(lm, reply_prompt(sources[i], template, reply_template), "",
                                  params.max_new_tokens)[0] for i in idx]
        if switch is None or value == 0:
            groups = lm.generate(prompts, params, n=k)
        else:
            with switched(lm, switch, axis_value(switch, value, dim)):
                groups = lm.generate(prompts, params, n=k)
        for i, prompt, group in zip(idx, prompts, groups, strict=True):
            for c in group:
                text = " ".join(c.text.split())  # the word tokenizer's decode may double spaces
                spans = []
                if with_evidence and switch is not None and text and value != 0:
                    spans = [asdict(sp) for sp in evidence_spans(lm, switch, prompt, " " + text, s=abs(value),
                                                                 dim=dim)]
                out[i].append(Response(sources[i].id, sources[i].target, value, text, c.finish_reason, spans))
    return out


def reply_prompt(source: Message, template: str = DEFAULT_TEMPLATE, reply_template: str = REPLY_TEMPLATE) -> str:
    """The prompt a response to ``source`` is written after: ``source``'s topic and its text.

    >>> reply_prompt(Message(id="a", text="Ban it.", target="gambling"))
    'topic : gambling . message : Ban it. . reply :'
    >>> reply_prompt(Message(id="t", text="", target="gambling"))  # a topic alone
    'topic : gambling . message :'
    """
    return message_prompt(source, template, source.text, reply_template)


def add_evidence(
    lm: LanguageModel, switch: LMSwitch, source: Message, responses: Sequence[Response], s: float,
    template: str = DEFAULT_TEMPLATE, reply_template: str = REPLY_TEMPLATE, dim: int | None = None, n: int = 2,
) -> list[Response]:
    """``responses`` (e.g. a chat endpoint's) with evidence spans from the local ``lm`` + ``switch``: each
    reply is scored after ``source``'s reply prompt, with the switch at +|s| against −|s|."""
    from dataclasses import replace

    prompt = reply_prompt(source, template, reply_template)
    value = abs(s) or 1.0
    return [replace(r, evidence=[asdict(sp) for sp in evidence_spans(lm, switch, prompt, " " + r.text, n,
                                                                      s=value, dim=dim)]) if r.text.strip() else r
            for r in responses]


def persona_prompt(side: str, target: str | None, reply: bool = True) -> str:
    """The system prompt of a chat endpoint: a reply to the user's message, or (``reply=False``) a new
    post on the topic the user names."""
    about = f" on the topic '{target}'" if target else ""
    task = "Reply to the message you are given" if reply else "Write a new post on the topic you are given"
    return (f"You are a member of the online community that is {side}{about}. {task} as that community "
            "would: one short social-media message, nothing else.")


class ChatEndpoint:
    """An OpenAI-compatible ``/chat/completions`` server; nothing but the given base URL is contacted."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 60.0):
        self.base_url, self.model, self.api_key, self.timeout = base_url.rstrip("/"), model, api_key, timeout

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return json.loads(reply.read().decode("utf-8"))
        except urllib.error.URLError as err:
            raise ValueError(f"chat endpoint {self.base_url}: {err}") from None
        except json.JSONDecodeError:
            raise ValueError(f"chat endpoint {self.base_url}: reply is not JSON") from None

    def respond(self, message: Message, side: str, k: int, params: SamplingParams) -> list[Response]:
        """``k`` replies to ``message`` in the persona of the ``side`` community (asks again if the server gives
        fewer); a ``message`` with no text stands for its topic: ``k`` new posts on it."""
        reply = bool(message.text.strip())
        if not reply and not message.target:
            raise ValueError(f"message {message.id!r} has neither text nor a target to write about")
        chat = [{"role": "system", "content": persona_prompt(side, message.target, reply)},
                {"role": "user", "content": message.text if reply else message.target}]
        out: list[Response] = []
        for _ in range(k):
            if len(out) >= k:
                break
            payload = {"model": self.model, "messages": chat, "n": k - len(out),
                       "max_tokens": params.max_new_tokens, "temperature": params.temperature}
            if params.seed is not None:
                payload["seed"] = params.seed
            choices = self._post(payload).get("choices")
            if not isinstance(choices, list) or not choices:
                raise ValueError(f"chat endpoint {self.base_url}: reply has no 'choices'")
            for choice in choices[: k - len(out)]:
                text = str(choice.get("message", {}).get("content", "")).strip()
                out.append(Response(message.id, message.target, 0.0, text, str(choice.get("finish_reason"))))
        return out


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique word n-grams / all word n-grams over ``texts`` (0 when there are none).

    >>> distinct_n(["a b a b", "a b"], 1), distinct_n(["a b a b", "a b"], 2)
    (0.3333333333333333, 0.5)
    """
    grams = [tuple(words[i : i + n]) for t in texts for words in [t.lower().split()] for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def perplexity(lm: LanguageModel, prompts: Sequence[str], texts: Sequence[str]) -> float:
    """Token-weighted perplexity of ``texts`` after ``prompts`` under ``lm`` as it is (no switch)."""
    pairs = [(p, " " + t) for p, t in zip(prompts, texts, strict=True) if t.strip()]
    if not pairs:
        return float("nan")
    lps = token_logprobs(lm, None, None, [p for p, _ in pairs], [t for _, t in pairs])
    tokens = sum(len(lp) for lp in lps)
    return math.exp(-sum(sum(lp) for lp in lps) / max(1, tokens))


def side_labels(classes: Sequence[str]) -> dict[float, str]:
    """Detector label for each side: {+1: favor-like, −1: against-like}."""
    favor, against = polar_labels(classes)
    if favor is None or against is None:
        raise ValueError(f"the flip detector's classes {list(classes)} lack a favor-like and an against-like label")
    return {1.0: favor, -1.0: against}


def flip_rate(detector: StanceDetector, responses: Sequence[Message], wanted: Sequence[float]) -> float:
    """Share of ``responses`` that ``detector`` assigns to the side ``wanted`` (+1 / −1); an empty response
    ("(empty)") never counts as flipped."""
    sides = side_labels(detector.classes_)
    predicted = detector.predict(responses)
    flips = [m.text != "(empty)" and p == sides[w] for m, p, w in zip(responses, predicted, wanted, strict=True)]
    return sum(flips) / len(flips) if flips else 0.0


def evaluate_redteam(
    lm: LanguageModel,
    switch: LMSwitch,
    detector: StanceDetector,
    sources: Sequence[Message],
    magnitudes: Sequence[float],
    k: int,
    params: SamplingParams,
    template: str = DEFAULT_TEMPLATE,
    n_examples: int = 3,
    label_field: str = "stance",
    other_detectors: dict[str, StanceDetector] | None = None,
    reply_template: str = REPLY_TEMPLATE,
    dim: int | None = None,
) -> dict[str, Any]:
    """Flip rate, perplexity and diversity at each |s|; examples with evidence at the largest |s|.

    ``detector`` gives the headline flip rate; ``other_detectors`` add ``flip_rate_by[name]`` per row
    (a second opinion when the headline detector is weak on the data set).
    """
    sources = [m for m in sources if stance_value(getattr(m, label_field)) != 0]
    if not sources:
        raise ValueError("no source message has a side (favor-like or against-like label) to oppose")
    labels = side_labels(detector.classes_)
    targets = [target_value(m, label_field) for m in sources]
    rows, examples = [], []
    for magnitude in magnitudes:
        responses = generate_responses(lm, switch, sources, [t * magnitude for t in targets], k, params, template,
                                       reply_template=reply_template, dim=dim)
        flat = [(i, r) for i, group in enumerate(responses) for r in group]
        as_messages = [Message(id=f"{r.source_id}-r{j}", text=r.text or "(empty)", target=r.target)
                       for j, (_, r) in enumerate(flat)]

        wanted = [targets[i] for i, _ in flat]
        texts = [r.text for _, r in flat]
        rows.append({
            "abs_s": magnitude, "n_responses": len(flat), "flip_rate": flip_rate(detector, as_messages, wanted),
            "flip_rate_by": {name: flip_rate(det, as_messages, wanted) for name, det in (other_detectors or {}).items()},
            "empty": sum(not t for t in texts),
            "perplexity": perplexity(lm, [reply_prompt(sources[i], template, reply_template) for i, _ in flat],
                                     texts),
            "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2),
        })
        log.info("red teaming |s|=%s: %s", magnitude, rows[-1])
    top = max(magnitudes)
    if top > 0 and n_examples:
        chosen = sources[:n_examples]
        shown = generate_responses(lm, switch, chosen, [target_value(m, label_field) * top for m in chosen], min(k, 2),
                                   params, template, with_evidence=True, reply_template=reply_template, dim=dim)
        for m, group in zip(chosen, shown, strict=True):
            examples.append({"source": m.to_json(), "target_side": labels[target_value(m, label_field)],
                             "responses": [asdict(r) for r in group]})
    return {"rows": rows, "examples": examples, "k": k, "n_sources": len(sources),
            "side_labels": {str(k_): v for k_, v in labels.items()},
            "prompt": reply_prompt(sources[0], template, reply_template)}  # what the model sees, for the first source


def highlight_html(text: str, evidence: Sequence[dict[str, Any]]) -> str:
    """``text`` escaped, with each evidence span's first occurrence in ``<mark class=pro|anti>``."""
    out = html.escape(text)
    for span in evidence:
        piece = html.escape(span["text"])
        if piece and piece in out:
            out = out.replace(piece, f'<mark class="{html.escape(span["side"])}">{piece}</mark>', 1)
    return out
