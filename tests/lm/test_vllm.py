"""vLLM backend on a GPU: same greedy tokens and log-likelihoods as the built-in model it was exported from."""

from __future__ import annotations

import pytest

from quartet.lm.export import export_to_hf
from quartet.lm.protocol import SamplingParams

pytestmark = pytest.mark.gpu


def test_vllm_matches_the_builtin_model(tiny_lm, tmp_path):
    pytest.importorskip("vllm")
    from quartet.lm.vllm_backend import VLLMLM

    vllm_lm = VLLMLM.load(export_to_hf(tiny_lm, tmp_path / "hf"), dtype="float32", gpu_memory_utilization=0.3)
    prompts = ["tom has 3 apples", "question : what is 5 plus"]
    greedy = SamplingParams(max_new_tokens=8, temperature=0.0)
    ours = [g[0].token_ids for g in tiny_lm.generate(prompts, greedy)]
    theirs = [g[0].token_ids for g in vllm_lm.generate(prompts, greedy)]
    assert theirs == ours
    conts = [" and buys 4 more", " 9 ?"]
    for a, b in zip(vllm_lm.loglikelihood(prompts, conts), tiny_lm.loglikelihood(prompts, conts), strict=True):
        assert a == pytest.approx(b, abs=1e-3)
    groups = vllm_lm.generate(prompts, SamplingParams(max_new_tokens=6, seed=1), n=4)
    assert [len(g) for g in groups] == [4, 4]
