"""Training a ``LanguageModel`` on (prompt, response) pairs with the shared trainer."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from quartet.core.runs import RunDir
from quartet.core.trainer import TrainConfig, Trainer
from quartet.lm.data import collate_lm, encode_sft, lm_loss
from quartet.lm.protocol import LanguageModel


def model_config_of(lm: LanguageModel) -> dict[str, Any]:
    """The JSON sidecar for ``lm``'s checkpoints (what rebuilds the module)."""
    cfg = getattr(lm.module, "cfg", None)
    if cfg is not None and hasattr(cfg, "to_json"):
        return cfg.to_json()
    hf_config = getattr(lm.module, "config", None)
    return hf_config.to_dict() if hf_config is not None else {}


def eval_loss_fn(examples: Sequence[dict[str, list[int]]], pad_id: int, batch_size: int) -> Callable[[nn.Module], dict[str, float]]:
    """An ``eval_fn`` for the trainer: mean loss per labelled token over ``examples``, in batches.

    Weighted by tokens, so the result does not depend on how the examples fall into batches.
    """

    def evaluate(module: nn.Module) -> dict[str, float]:
        total, tokens = 0.0, 0.0
        device = next(module.parameters()).device
        for start in range(0, len(examples), batch_size):
            batch = collate_lm(list(examples[start : start + batch_size]), pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            loss, metrics = lm_loss(module, batch)
            total += float(loss) * metrics["tokens"]
            tokens += metrics["tokens"]
        return {"loss": total / max(tokens, 1.0), "tokens": tokens}

    return evaluate


def train_lm(
    lm: LanguageModel,
    pairs: Sequence[tuple[str, str]],
    cfg: TrainConfig,
    run: RunDir | Path,
    max_len: int | None = None,
    eval_fn: Callable[[Any], dict[str, float]] | None = None,
    eval_pairs: Sequence[tuple[str, str]] = (),
) -> dict[str, float]:
    """Fine-tune (or pretrain, with prompt "") ``lm`` in place; resumes from ``run``'s checkpoints.

    Loss is on the response tokens and eos only. ``eval_pairs`` (held out) add ``eval_loss``
    to the metrics every ``cfg.eval_every`` steps and at the end. Returns the final metrics.
    """
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    limit = max_len or getattr(getattr(lm.module, "cfg", None), "max_seq_len", 1024)
    examples = [encode_sft(lm.tokenizer, prompt, response, limit) for prompt, response in pairs]
    if eval_pairs:
        held_out = eval_loss_fn(
            [encode_sft(lm.tokenizer, prompt, response, limit) for prompt, response in eval_pairs],
            lm.tokenizer.pad_id,
            cfg.batch_size,
        )
        eval_fn = _merged(held_out, eval_fn) if eval_fn is not None else held_out
    trainer = Trainer(
        lm.module,
        lm_loss,
        examples,
        functools.partial(collate_lm, pad_id=lm.tokenizer.pad_id),
        cfg,
        run,
        model_config_of(lm),
        eval_fn=eval_fn,
        device=lm.device,
    )
    result = trainer.fit()
    lm.module.eval()
    return result


def _merged(first: Callable[[Any], dict[str, float]], second: Callable[[Any], dict[str, float]]):
    return lambda module: {**first(module), **second(module)}
