"""Batched sampling with a KV cache and prefix sharing, for any incremental decoder.

The loop is backend-neutral: the built-in transformer and Hugging Face models both
provide an ``IncrementalDecoder`` (prefill a left-padded batch once, branch the cache
into N rows, feed one token at a time). Sampling semantics therefore do not depend on
the backend:

* every (prompt, sample) row draws from its own generator seeded from the request seed,
  the prompt's index and the sample's index, so a seed gives the same samples whatever
  the batch size or the other prompts in the batch;
* sampling is by inverse CDF over the filtered distribution with pre-drawn uniforms,
  so one random draw per row per step and nothing else touches the RNG;
* log-probs are reported under the model's own distribution (temperature 1, no
  filtering), which is what confidence measures need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from quartet.lm.protocol import Completion, SamplingParams


class IncrementalDecoder(Protocol):
    def prefill(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, capacity: int) -> tuple[torch.Tensor, Any]:
        """Run the left-padded prompts (B, P); return last-position logits (B, V) and the cache state."""
        ...

    def repeat(self, state: Any, n: int) -> Any:
        """Each row of the cache becomes ``n`` consecutive rows."""
        ...

    def step(self, tokens: torch.Tensor, attention_mask: torch.Tensor, state: Any) -> torch.Tensor:
        """Feed ``tokens`` (B, 1); ``attention_mask`` covers every position so far. Returns logits (B, V)."""
        ...


def row_seed(base: int, prompt_index: int, sample_index: int) -> int:
    return (base * 1_000_003 + prompt_index * 65_537 + sample_index) % (2**63 - 1)


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Mask (to -inf) tokens outside the top-k and outside the top-p nucleus; logits (B, V)."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        # Drop a token when the mass before it already reaches top_p (the first token always stays).
        drop = probs.cumsum(-1) - probs >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def choose_tokens(
    logits: torch.Tensor, params: SamplingParams, uniforms: torch.Tensor, log_probs: torch.Tensor | None = None
) -> torch.Tensor:
    """Pick one token per row of ``logits`` (B, V) using ``uniforms`` (B, 1) in (0, 1]: ids (B, 1).

    Inverse CDF: the first token whose cumulative mass reaches ``u`` times the total. With
    u > 0 a token of zero mass (filtered out) is never picked, and with u <= 1 the index
    stays below V.

    ``log_probs`` is ``log_softmax(logits)`` when the caller has it: at temperature 1 with
    no filtering the sampling distribution is its ``exp``, which saves a softmax.
    """
    if params.temperature <= 0:
        return logits.argmax(-1, keepdim=True)
    if params.temperature == 1.0 and params.top_k <= 0 and params.top_p >= 1.0:
        probs = log_probs.exp() if log_probs is not None else logits.float().softmax(-1)
    else:
        probs = filter_logits(logits.float() / params.temperature, params.top_k, params.top_p).softmax(-1)
    cdf = probs.cumsum(-1)  # (B, V)
    return torch.searchsorted(cdf, uniforms * cdf[:, -1:])


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L) ids and attention mask, padded on the left so every prompt ends at column L-1."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
    return ids, mask


def _cut_at_stop(ids: list[int], text: str, stops: Sequence[str], decode: Callable[[list[int]], str]):
    """Text before the first stop string, and the longest token prefix that decodes within it."""
    cut = min((text.find(s) for s in stops if s in text), default=-1)
    if cut < 0:
        return None
    keep = len(ids)
    while keep > 0 and len(decode(ids[:keep])) > cut:
        keep -= 1
    return text[:cut], keep


@torch.inference_mode()
def generate_ids(
    decoder: IncrementalDecoder,
    prompts: Sequence[Sequence[int]],
    params: SamplingParams,
    n: int,
    eos_id: int,
    pad_id: int,
    decode: Callable[[list[int]], str],
    prompt_indices: Sequence[int] | None = None,
    base_seed: int | None = None,
    device: torch.device | str = "cpu",
) -> list[list[Completion]]:
    """Sample ``n`` continuations of each tokenized prompt; one prefill per prompt.

    A decoding step is a handful of tensor ops and no host round trip except the "all
    finished?" check; stop strings, when given, decode the unfinished rows every step.
    """
    if params.max_new_tokens < 1:
        raise ValueError("max_new_tokens must be at least 1")
    prompt_indices = list(prompt_indices if prompt_indices is not None else range(len(prompts)))
    if base_seed is None:
        base_seed = params.seed if params.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)))
    steps = params.max_new_tokens
    ids, mask = left_pad(prompts, pad_id)
    ids, mask = ids.to(device), mask.to(device)
    width = ids.shape[1]
    logits, state = decoder.prefill(ids, mask, width + steps)
    if n > 1:
        state = decoder.repeat(state, n)
        logits = logits.repeat_interleave(n, dim=0)
        mask = mask.repeat_interleave(n, dim=0)
    rows = logits.shape[0]
    # The mask of every position this generation can reach, filled once; step t passes a view.
    full_mask = mask.new_ones(rows, width + steps)
    full_mask[:, :width] = mask
    # Drawn in [0, 1), used as 1 - u in (0, 1] (see ``choose_tokens``); step-major, so that
    # step t reads one contiguous (rows, 1) slice.
    uniforms = 1 - torch.stack(
        [
            torch.rand(steps, generator=torch.Generator().manual_seed(row_seed(base_seed, p, j)))
            for p in prompt_indices
            for j in range(n)
        ],
        dim=1,
    ).to(device).unsqueeze(-1)  # (steps, rows, 1)

    tokens = torch.full((steps, rows, 1), pad_id, dtype=torch.long, device=device)
    logprobs = torch.zeros((steps, rows, 1), device=device)
    lengths = torch.full((rows, 1), steps, dtype=torch.long, device=device)
    finished = torch.zeros((rows, 1), dtype=torch.bool, device=device)
    stop_ids = sorted({eos_id, *params.stop_token_ids})
    stop_tensor = torch.tensor(stop_ids, device=device)
    stopped: dict[int, tuple[str, int]] = {}
    for t in range(steps):
        log_probs = F.log_softmax(logits.float(), -1)  # (rows, V)
        token = choose_tokens(logits, params, uniforms[t], log_probs)  # (rows, 1)
        token.masked_fill_(finished, pad_id)
        tokens[t] = token
        torch.gather(log_probs, 1, token, out=logprobs[t])
        ended = token == eos_id if len(stop_ids) == 1 else torch.isin(token, stop_tensor)
        if pad_id in stop_ids:  # finished rows hold pad: only a live row can end now
            ended &= ~finished
        lengths.masked_fill_(ended, t)
        finished |= ended
        if params.stop:
            for row in torch.nonzero(~finished[:, 0]).flatten().tolist():
                row_ids = tokens[: t + 1, row, 0].tolist()
                hit = _cut_at_stop(row_ids, decode(row_ids), params.stop, decode)
                if hit is not None:
                    stopped[row] = hit
                    lengths[row] = hit[1]
                    finished[row] = True
        if t == steps - 1 or bool(finished.all()):
            break
        logits = decoder.step(token, full_mask[:, : width + t + 1], state)

    tokens_list = tokens[:, :, 0].T.tolist()
    logprobs_list = logprobs[:, :, 0].T.tolist()
    lengths_list, finished_list = lengths[:, 0].tolist(), finished[:, 0].tolist()
    reasons = []
    for row in range(rows):
        if row in stopped:
            reasons.append("stop")
        elif not finished_list[row]:
            reasons.append("length")
        else:  # ended on a stop token, which is kept in ``tokens`` at the row's length
            reasons.append("eos" if tokens_list[row][lengths_list[row]] == eos_id else "stop")
    results: list[list[Completion]] = []
    for p in range(len(prompts)):
        group = []
        for j in range(n):
            row = p * n + j
            length = lengths_list[row]
            row_ids = tokens_list[row][:length]
            text = stopped[row][0] if row in stopped else decode(row_ids)
            group.append(
                Completion(text, tuple(row_ids), tuple(logprobs_list[row][:length]), reasons[row])  # type: ignore[arg-type]
            )
        results.append(group)
    return results
