"""Training a PRM (or an ORM) from label records with the shared trainer."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from quartet.core.runs import RunDir
from quartet.core.trainer import TrainConfig, Trainer
from quartet.lm.protocol import LanguageModel
from quartet.lm.training import model_config_of
from quartet.prm.prm_model import RewardTokens, ValueHeadPRM, collate_prm, encode_prm, reward_loss, value_loss

log = logging.getLogger(__name__)

VALUE_HEAD_FILE = "value_head.safetensors"


def prm_examples(lm: LanguageModel, tokens: RewardTokens, records: Sequence[dict[str, Any]],
                 max_len: int | None = None) -> list[dict[str, Any]]:
    """Encode label records; records with no steps are reported and skipped."""
    limit = max_len or getattr(getattr(lm.module, "cfg", None), "max_seq_len", 1024)
    out, empty = [], 0
    for r in records:
        if not r["steps"]:
            empty += 1
            continue
        out.append(encode_prm(lm.tokenizer, tokens, r["prompt"], r["steps"], r["labels"], limit))
    if empty:
        log.warning("skipped %d label records with no steps", empty)
    return out


def train_prm(lm: LanguageModel, records: Sequence[dict[str, Any]], cfg: TrainConfig, run: RunDir | Path,
              tokens: RewardTokens | None = None, value_head: bool = False) -> dict[str, float]:
    """Fine-tune ``lm`` in place into a PRM on ``records`` (``{"prompt", "steps", "labels"}``).

    Resumes from ``run``'s checkpoints. With ``value_head`` a linear head is trained with BCE
    instead of the reward-token CE; its weights are saved as ``value_head.safetensors`` in the
    run (``load_value_head`` rebuilds it, ``scoring.value_step_scores`` scores with it).
    """
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    tokens = tokens or RewardTokens.resolve(lm.tokenizer)
    examples = prm_examples(lm, tokens, records)
    collate = functools.partial(collate_prm, pad_id=lm.tokenizer.pad_id)
    if value_head:
        dim = getattr(getattr(lm.module, "cfg", None), "dim", None)  # built-in model
        if dim is None:  # Hugging Face model behind quartet.lm.hf.LogitsModule
            dim = getattr(getattr(getattr(lm.module, "model", None), "config", None), "hidden_size", None)
        if dim is None:
            raise ValueError("value head: cannot tell the model's hidden width")
        module = ValueHeadPRM(lm, dim)
        trainer = Trainer(module, value_loss, examples, collate, cfg, run, model_config_of(lm), device=lm.device)
        result = trainer.fit()
        save_file({k: v.detach().cpu().contiguous() for k, v in module.head.state_dict().items()},
                  str(run.path / VALUE_HEAD_FILE))
    else:
        trainer = Trainer(lm.module, reward_loss(tokens), examples, collate, cfg, run, model_config_of(lm),
                          device=lm.device)
        result = trainer.fit()
    lm.module.eval()
    return result


def load_value_head(lm: LanguageModel, path: Path | str) -> ValueHeadPRM:
    """``ValueHeadPRM`` over ``lm`` with the head weights in ``path`` (a file or a run directory); strict."""
    path = Path(path)
    path = path / VALUE_HEAD_FILE if path.is_dir() else path
    state = load_file(str(path))
    module = ValueHeadPRM(lm, state["weight"].shape[1])
    module.head.load_state_dict(state, strict=True)
    return module.eval()
