"""Training a ``LanguageModel`` on (prompt, response) pairs with the shared trainer."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


def train_lm(
    lm: LanguageModel,
    pairs: Sequence[tuple[str, str]],
    cfg: TrainConfig,
    run: RunDir | Path,
    max_len: int | None = None,
    eval_fn: Callable[[Any], dict[str, float]] | None = None,
) -> dict[str, float]:
    """Fine-tune (or pretrain, with prompt "") ``lm`` in place; resumes from ``run``'s checkpoints.

    Loss is on the response tokens and eos only. Returns the final metrics.
    """
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    limit = max_len or getattr(getattr(lm.module, "cfg", None), "max_seq_len", 1024)
    examples = [encode_sft(lm.tokenizer, prompt, response, limit) for prompt, response in pairs]
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
