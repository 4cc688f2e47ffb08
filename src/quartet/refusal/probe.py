"""Ask a model its questions: greedy answers, sampled answers, and the probe that splits D1/D0.

Free-form items are answered greedily up to the first "." or newline; the answer's
confidence is the geometric mean of its tokens' probabilities. Multiple-choice items take
the argmax over the option letters' next-token logits; the confidence is the softmax of
the chosen letter among the letters. Work goes in batches (the backend pads), and every
finished batch is appended to a JSONL file, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import functools
import logging
import math
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from quartet.core.progress import progress_bar
from quartet.core.ray_shards import RaySpec
from quartet.core.records import AppendOnlyJsonl
from quartet.lm.protocol import LanguageModel, SamplingParams
from quartet.refusal.certainty import option_token_ids
from quartet.refusal.data import QAItem
from quartet.refusal.matching import MatchMode, is_correct
from quartet.worlds.facts import OPTION_LETTERS

log = logging.getLogger(__name__)

STOP = (".", "\n")  # an answer ends at its first sentence end


def _greedy(lm: LanguageModel, items: Sequence[QAItem], max_new_tokens: int) -> list[tuple[str, float]]:
    params = SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0, stop=STOP)
    out = []
    for (comp,) in lm.generate([it.prompt for it in items], params, n=1):
        text = comp.text.strip()
        # An empty answer gets confidence 0: it is never right, so it should rank last.
        conf = math.exp(sum(comp.logprobs) / len(comp.logprobs)) if comp.logprobs and text else 0.0
        out.append((text, conf))
    return out


def _choice_probs(lm: LanguageModel, items: Sequence[QAItem]) -> torch.Tensor:
    """(B, C) softmax over the option letters (all items of one call share C)."""
    ids = option_token_ids(lm.tokenizer, len(items[0].choices))
    logprobs = lm.next_token_logprobs([it.prompt for it in items], ids)  # (B, C)
    return torch.softmax(logprobs.double(), dim=-1)


def answer_items(lm: LanguageModel, items: Sequence[QAItem], max_new_tokens: int = 16) -> list[tuple[str, float]]:
    """(answer, confidence) per item, in order; multiple-choice answers are option letters."""
    result: list[tuple[str, float] | None] = [None] * len(items)
    free = [i for i, it in enumerate(items) if not it.choices]
    if free:
        for i, ans in zip(free, _greedy(lm, [items[i] for i in free], max_new_tokens), strict=True):
            result[i] = ans
    by_width: dict[int, list[int]] = {}
    for i, it in enumerate(items):
        if it.choices:
            by_width.setdefault(len(it.choices), []).append(i)
    for idx in by_width.values():
        probs = _choice_probs(lm, [items[i] for i in idx])
        for row, i in enumerate(idx):
            best = int(probs[row].argmax())
            result[i] = (OPTION_LETTERS[best], float(probs[row, best]))
    return [r for r in result if r is not None]


def item_correct(item: QAItem, answer: str, match: MatchMode = "contains") -> bool:
    """Multiple choice: the gold letter; free form: normalized match against any gold answer."""
    if item.choices:
        return bool(answer) and answer == item.gold
    return is_correct(answer, item.answers, match)


def sample_answers(lm: LanguageModel, items: Sequence[QAItem], k: int, temperature: float, seed: int,
                   max_new_tokens: int = 16) -> list[list[str]]:
    """``k`` sampled answers per item (R-Tuning-U and the entropy baseline); seeded per item."""
    out: list[list[str]] = [[] for _ in items]
    free = [i for i, it in enumerate(items) if not it.choices]
    if free:
        params = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, stop=STOP, seed=seed)
        comps = lm.generate([items[i].prompt for i in free], params, n=k)
        for i, group in zip(free, comps, strict=True):
            out[i] = [c.text.strip() for c in group]
    for i, it in enumerate(items):
        if it.choices:
            probs = _choice_probs(lm, [it])[0]
            logits = torch.log(probs.clamp_min(1e-300)) / max(temperature, 1e-6)
            gen = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(it.id.encode()))
            picks = torch.multinomial(torch.softmax(logits, -1), k, replacement=True, generator=gen)
            out[i] = [OPTION_LETTERS[int(j)] for j in picks]
    return out


def probe_records(lm: LanguageModel, batch: list[QAItem], max_new_tokens: int = 16,
                  match: MatchMode = "contains") -> list[dict[str, Any]]:
    answers = answer_items(lm, batch, max_new_tokens)
    return [{"id": it.id, "prediction": a, "confidence": c, "correct": item_correct(it, a, match)}
            for it, (a, c) in zip(batch, answers, strict=True)]


def sample_records(lm: LanguageModel, batch: list[QAItem], k: int, temperature: float, seed: int,
                   max_new_tokens: int = 16) -> list[dict[str, Any]]:
    samples = sample_answers(lm, batch, k, temperature, seed, max_new_tokens)
    return [{"id": it.id, "samples": s} for it, s in zip(batch, samples, strict=True)]


def _worker(model_dir: str, backend: str, records: Callable[..., list[dict[str, Any]]], options: dict[str, Any]):
    """Runs inside a Ray actor: load the model there, return the batch processor."""
    from quartet.lm.backends import load_lm

    return functools.partial(records, load_lm(model_dir, backend=backend), **options)


def run_batched(items: Sequence[QAItem], path: Path, lm: LanguageModel | None,
                records: Callable[..., list[dict[str, Any]]], options: dict[str, Any], batch_size: int, desc: str,
                ray: RaySpec | None = None) -> dict[str, dict[str, Any]]:
    """Apply ``records(lm, batch, **options)`` to the items not yet in ``path``, one batch at a time,
    appending each finished batch; returns every record by id (earlier runs' included).
    With ``ray``, batches run on the cluster's workers and are appended as they finish."""
    store = AppendOnlyJsonl(path, key=lambda r: r["id"])
    done = store.done()
    todo = [it for it in items if it.id not in done]
    if done:
        log.info("%s: %d of %d items already done", path, len(items) - len(todo), len(items))
    if ray is not None:
        from quartet.core.ray_shards import run_on_ray  # ray is imported only when asked for

        run_on_ray(todo, out=store, shard_size=batch_size, workers=ray.workers, address=ray.init_address,
                   make_processor=functools.partial(_worker, ray.model_dir, ray.backend, records, options))
        return {r["id"]: r for r in store.records()}
    bar = progress_bar(len(todo), desc=desc, unit="q")
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        for record in records(lm, batch, **options):
            store.append(record)
        bar.update(len(batch))
    bar.close()
    return {r["id"]: r for r in store.records()}


def probe(lm: LanguageModel | None, items: Sequence[QAItem], path: Path | str, batch_size: int = 32,
          max_new_tokens: int = 16, match: MatchMode = "contains",
          ray: RaySpec | None = None) -> dict[str, dict[str, Any]]:
    """Greedy answers of the base model to its training questions; ``correct`` splits D1 / D0.
    Resumable: items already in ``path`` are not asked again."""
    options = {"max_new_tokens": max_new_tokens, "match": match}
    return run_batched(items, Path(path), lm, probe_records, options, batch_size, "probe", ray)


def sample(lm: LanguageModel | None, items: Sequence[QAItem], path: Path | str, k: int, temperature: float,
           seed: int, batch_size: int = 32, max_new_tokens: int = 16,
           ray: RaySpec | None = None) -> dict[str, dict[str, Any]]:
    """``k`` samples per item at ``temperature``, resumable like ``probe``."""
    options = {"k": k, "temperature": temperature, "seed": seed, "max_new_tokens": max_new_tokens}
    return run_batched(items, Path(path), lm, sample_records, options, batch_size, "sample", ray)


def probe_recovery(items: Sequence[QAItem], records: dict[str, dict[str, Any]]) -> dict[str, float]:
    """How well the probe's D1 recovers the known gap (items with ``stated``): precision, recall,
    accuracy of "answered right" as a predictor of "stated in pretraining"."""
    pairs = [(bool(records[it.id]["correct"]), bool(it.stated)) for it in items if it.stated is not None]
    if not pairs:
        return {}
    tp = sum(p and s for p, s in pairs)
    fp = sum(p and not s for p, s in pairs)
    fn = sum(s and not p for p, s in pairs)
    return {
        "n": len(pairs), "stated": sum(s for _, s in pairs), "d1": tp + fp,
        "precision": tp / (tp + fp) if tp + fp else math.nan,
        "recall": tp / (tp + fn) if tp + fn else math.nan,
        "agreement": sum(p == s for p, s in pairs) / len(pairs),
    }
