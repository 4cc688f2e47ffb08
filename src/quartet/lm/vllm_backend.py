"""vLLM as a quartet ``LanguageModel``: fast sampling and scoring on GPUs (``--backend vllm``).

Install with ``pip install 'quartet[vllm]'``. Sampling uses vLLM's continuous batching and
automatic prefix caching, which replace quartet's own prefix sharing: the N continuations
of a prompt, and the Monte-Carlo rollouts of every step prefix of a solution, reuse the
cached prompt blocks. Scoring uses vLLM's prompt log-probs: the log-prob of every prompt
token, so a candidate token is scored by appending it to the prompt.

vLLM serves; it does not train or expose hidden states. ``module``, ``hidden_transform`` and
``save`` raise ``NotImplementedError`` naming the ``hf`` backend, which loads the same folder.

vLLM reads Hugging Face folders only. A built-in quartet model (``model.json``) is exported
once to a Llama folder beside it, ``hf-<name>/`` (``hf_folder_for``), and reused while the
model's files are unchanged, so ``--backend vllm`` works on the embedded pipelines' models.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import torch

from quartet.lm.hf import HFTokenizer
from quartet.lm.protocol import Completion, HiddenTransform, SamplingParams
from quartet.lm.scoring import split_continuation

log = logging.getLogger(__name__)

USE_HF = "vLLM only generates and scores; load the same folder with the hf backend for this"
SOURCE_FILE = "quartet_source.json"  # in an exported folder: the digest of the model it was made from
BUILTIN_FILES = ("model.safetensors", "model.json", "tokenizer.json")


def builtin_digest(model_dir: Path) -> str:
    """sha256 over a built-in model's weight, config and tokenizer files: what an export depends on."""
    digest = hashlib.sha256()
    for name in BUILTIN_FILES:
        digest.update(name.encode())
        digest.update((model_dir / name).read_bytes())
    return digest.hexdigest()


def _export_matches(folder: Path, digest: str) -> bool:
    try:
        return json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8")).get("digest") == digest
    except (OSError, ValueError):
        return False


def hf_folder_for(model_dir: str | Path) -> Path:
    """A Hugging Face folder for ``model_dir``: itself when it has ``config.json``; for a built-in
    model, its export in the sibling folder ``hf-<name>/``, made now if missing or stale.

    The export is written to a temporary folder and renamed into place, so concurrent loaders
    (Ray workers sharing a file system) never read half an export; the loser of a race uses
    the winner's folder.
    """
    model_dir = Path(model_dir)
    if (model_dir / "config.json").is_file():
        return model_dir
    if not (model_dir / "model.json").is_file():
        raise FileNotFoundError(f"{model_dir} holds neither a HF model (config.json) nor a quartet model (model.json)")
    target = model_dir.parent / f"hf-{model_dir.name}"
    digest = builtin_digest(model_dir)
    if _export_matches(target, digest):
        return target
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.export import export_to_hf

    tmp = model_dir.parent / f".hf-{model_dir.name}.{os.getpid()}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    export_to_hf(BuiltinLM.load(model_dir, device="cpu"), tmp)
    (tmp / SOURCE_FILE).write_text(json.dumps({"source": str(model_dir.resolve()), "digest": digest}) + "\n")
    if target.exists() and not _export_matches(target, digest):
        shutil.rmtree(target, ignore_errors=True)  # made from an earlier version of the model
    try:
        os.replace(tmp, target)
    except OSError:  # another process renamed its export into place first
        shutil.rmtree(tmp, ignore_errors=True)
        if not _export_matches(target, digest):
            raise
    log.info("exported %s for vLLM to %s", model_dir, target)
    return target


class VLLMLM:
    def __init__(self, engine: Any, tokenizer: HFTokenizer):
        self.engine = engine
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, path: str | Path, dtype: str = "auto", gpu_memory_utilization: float = 0.85,
             tensor_parallel_size: int = 1, seed: int = 0) -> VLLMLM:
        """``path``: a Hugging Face folder, or a built-in model (exported first, see ``hf_folder_for``)."""
        from transformers import AutoTokenizer
        from vllm import LLM

        path = hf_folder_for(path)
        engine = LLM(model=str(path), dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                     tensor_parallel_size=tensor_parallel_size, enable_prefix_caching=True, seed=seed)
        return cls(engine, HFTokenizer(AutoTokenizer.from_pretrained(path, local_files_only=True)))

    @property
    def tokenizer(self) -> HFTokenizer:
        return self._tokenizer

    @property
    def device(self) -> torch.device:
        return torch.device("cuda")

    def _run(self, prompts: list[list[int]], params: list[Any]) -> list[Any]:
        inputs = [{"prompt_token_ids": ids} for ids in prompts]
        return self.engine.generate(inputs, params, use_tqdm=False)

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        from vllm import SamplingParams as VllmParams

        base = params.seed if params.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)))
        per_prompt = [
            VllmParams(n=n, temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or -1,
                       max_tokens=params.max_new_tokens, stop=list(params.stop) or None, seed=base + i, logprobs=0)
            for i in range(len(prompts))
        ]
        outputs = self._run([self._tokenizer.encode(p, add_bos=True) for p in prompts], per_prompt)
        results = []
        for output in outputs:
            group = []
            for seq in output.outputs:
                ids = tuple(seq.token_ids)
                logprobs = tuple(step[token].logprob for step, token in zip(seq.logprobs or [], ids, strict=False))
                if seq.finish_reason == "length":
                    reason = "length"
                elif seq.stop_reason is None:  # vLLM's marker for an eos stop
                    reason, ids, logprobs = "eos", ids[:-1], logprobs[:-1]
                else:
                    reason = "stop"
                group.append(Completion(seq.text, ids, logprobs, reason))
            results.append(group)
        return results

    def _prompt_logprobs(self, sequences: list[list[int]]) -> list[list[float | None]]:
        """Log-prob of every token of each sequence given the ones before it (None for the first)."""
        from vllm import SamplingParams as VllmParams

        params = VllmParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        outputs = self._run(sequences, [params] * len(sequences))
        return [
            [None if step is None else step[token].logprob for step, token in zip(out.prompt_logprobs, seq, strict=True)]
            for out, seq in zip(outputs, sequences, strict=True)
        ]

    def loglikelihood(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[list[float]]:
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        pairs = [split_continuation(self._tokenizer, p, c) for p, c in zip(prompts, continuations, strict=True)]
        scores = self._prompt_logprobs([p + c for p, c in pairs])
        return [s[len(p):] for s, (p, _) in zip(scores, pairs, strict=True)]

    def _candidates_after(self, prefixes: list[list[int]], candidate_ids: Sequence[int]) -> torch.Tensor:
        """(len(prefixes), C): each candidate's log-prob right after each prefix."""
        sequences = [prefix + [c] for prefix in prefixes for c in candidate_ids]
        last = [s[-1] for s in self._prompt_logprobs(sequences)]
        return torch.tensor(last, dtype=torch.float32).view(len(prefixes), len(candidate_ids))

    def next_token_logprobs(self, texts: Sequence[str], candidate_ids: Sequence[int]) -> torch.Tensor:
        return self._candidates_after([self._tokenizer.encode(t, add_bos=True) for t in texts], candidate_ids)

    def marked_logprobs(self, texts: Sequence[str], marker_id: int, candidate_ids: Sequence[int]) -> list[torch.Tensor]:
        results = []
        for text in texts:
            ids = self._tokenizer.encode(text, add_bos=True)
            prefixes = [ids[: i + 1] for i, token in enumerate(ids) if token == marker_id]
            results.append(self._candidates_after(prefixes, candidate_ids) if prefixes
                           else torch.zeros((0, len(candidate_ids))))
        return results

    @property
    def module(self) -> torch.nn.Module:
        raise NotImplementedError(f"training: {USE_HF}")

    def hidden_transform(self, transform: HiddenTransform | None) -> AbstractContextManager[None]:
        raise NotImplementedError(f"hidden_transform: {USE_HF}")

    def save(self, directory: str) -> None:
        raise NotImplementedError(f"save: {USE_HF}")
