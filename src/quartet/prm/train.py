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
from quartet.prm.prm_model import (
    RewardSpec,
    RewardTokens,
    ValueHeadPRM,
    collate_prm,
    encode_prm,
    reward_loss,
    step_tag_id,
    value_loss,
)

log = logging.getLogger(__name__)

VALUE_HEAD_FILE = "value_head.safetensors"


def add_step_tag(lm: LanguageModel, tag: str) -> bool:
    """Make ``tag`` one token of ``lm`` before it is trained into a PRM; returns whether it was added.

    Real tokenizers (Qwen's and Llama's byte-level BPE) split "<step>" into pieces, so a Hugging
    Face model that lacks the tag gets it as a special token and one more embedding row (and
    output row); the PRM saved afterwards carries both. The built-in tokenizer cannot grow:
    there the tag must already be a token (``policy.build_tokenizer`` adds the configured one).
    """
    if step_tag_id(lm.tokenizer, tag) is not None:
        return False
    hf_tokenizer = getattr(lm.tokenizer, "hf", None)  # quartet.lm.hf.HFTokenizer
    model = getattr(lm.module, "model", None)  # quartet.lm.hf.LogitsModule
    if hf_tokenizer is None or not hasattr(model, "resize_token_embeddings"):
        raise ValueError(f"the step tag {tag!r} (prm.step_tag) is not one token of this model's tokenizer, and "
                         "only a Hugging Face model can have a token added: pick a tag that is one token")
    hf_tokenizer.add_tokens([tag], special_tokens=True)  # never split; the same call in transformers 4 and 5
    model.resize_token_embeddings(len(hf_tokenizer))
    if step_tag_id(lm.tokenizer, tag) is None:
        raise ValueError(f"the step tag {tag!r} (prm.step_tag) is still not one token after adding it")
    log.info("added the step tag %r to the tokenizer as a special token; embeddings resized to %d",
             tag, len(hf_tokenizer))
    return True


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
              spec: RewardSpec | None = None, value_head: bool = False) -> dict[str, float]:
    """Fine-tune ``lm`` in place into a PRM on ``records`` (``{"prompt", "steps", "labels"}``).

    ``spec``: the step tag and reward tokens (default "<step>", "+", "-"); a Hugging Face model
    whose tokenizer lacks the tag gets it first (``add_step_tag``); a reward token that is not
    one token is an error. Resumes from ``run``'s checkpoints. With ``value_head`` a linear head
    is trained with BCE instead of the reward-token CE; its weights are saved as
    ``value_head.safetensors`` in the run (``load_value_head`` rebuilds it,
    ``scoring.value_step_scores`` scores with it). Save the PRM with ``lm.save(dir)`` and
    ``spec.save(dir)`` so that ``pipeline.load_scorer(dir)`` reads the same tokens.
    """
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    spec = spec or RewardSpec()
    add_step_tag(lm, spec.tag)
    tokens = RewardTokens.resolve(lm.tokenizer, spec)
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
