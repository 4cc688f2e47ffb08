import torch

from quartet.lm.generate import choose_tokens, filter_logits, left_pad, row_seed
from quartet.lm.protocol import SamplingParams


def greedy_by_recomputation(lm, prompt_ids, max_new):
    """Reference: no cache, the whole (left-padded) sequence recomputed at every step."""
    ids, mask = left_pad(prompt_ids, lm.tokenizer.pad_id)
    out = []
    for _ in range(max_new):
        logits = lm.module(ids, attention_mask=mask)[:, -1]
        token = logits.argmax(-1)
        out.append(token)
        ids = torch.cat([ids, token[:, None]], 1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
    return torch.stack(out, 1).tolist()


def test_kv_cache_greedy_equals_full_recomputation_with_mixed_lengths(tiny_lm):
    prompts = ["tom has 3 apples", "question : what is 5 plus 9 ? answer :", "a box"]
    encoded = [tiny_lm.tokenizer.encode(p, add_bos=True) for p in prompts]
    params = SamplingParams(max_new_tokens=12, temperature=0.0)
    cached = tiny_lm.generate(prompts, params)
    reference = greedy_by_recomputation(tiny_lm, encoded, 12)
    for got, want in zip(cached, reference, strict=True):
        eos = tiny_lm.tokenizer.eos_id
        want = want[: want.index(eos)] if eos in want else want
        assert list(got[0].token_ids) == want


def test_prefix_sharing_equals_separate_prefills(tiny_lm):
    params = SamplingParams(max_new_tokens=10, temperature=1.0, seed=7)
    shared = tiny_lm.generate(["tom has 3 apples", "ann has"], params, n=4)
    # Each prompt alone, no batching with the other prompt: same seeds -> same samples.
    alone = tiny_lm.generate(["tom has 3 apples"], params, n=4)
    assert [c.token_ids for c in shared[0]] == [c.token_ids for c in alone[0]]
    assert len({c.token_ids for c in shared[0]}) > 1  # the 4 samples differ from one another


def sampled_by_recomputation(lm, prompt_ids, params, prompt_index, sample_index):
    """Reference for one sampled row: no cache, the whole sequence recomputed every step, the same
    uniforms as the sampler draws for (prompt, sample)."""
    seed = row_seed(params.seed, prompt_index, sample_index)
    uniforms = 1 - torch.rand(params.max_new_tokens, generator=torch.Generator().manual_seed(seed))
    ids, out = list(prompt_ids), []
    for t in range(params.max_new_tokens):
        logits = lm.module(torch.tensor([ids]))[:, -1]
        token = choose_tokens(logits, params, uniforms[t].view(1, 1)).item()
        if token == lm.tokenizer.eos_id:
            break
        out.append(token)
        ids.append(token)
    return out


def test_prefix_shared_samples_equal_sampling_by_full_recomputation(tiny_lm):
    """One prefill per prompt, its cache repeated for n continuations, is the same computation as
    sampling each continuation from scratch: token for token, prompts of different lengths batched."""
    prompts = ["tom has 3 apples", "question : what is 5 plus 9 ? answer :"]
    params = SamplingParams(max_new_tokens=10, temperature=0.9, top_k=20, seed=11)
    shared = tiny_lm.generate(prompts, params, n=3)
    for p, (prompt, group) in enumerate(zip(prompts, shared, strict=True)):
        encoded = tiny_lm.tokenizer.encode(prompt, add_bos=True)
        for j, completion in enumerate(group):
            assert list(completion.token_ids) == sampled_by_recomputation(tiny_lm, encoded, params, p, j), (p, j)
    assert len({c.token_ids for c in shared[1]}) > 1  # the samples differ from one another


def test_seeded_sampling_is_independent_of_batch_size(tiny_lm):
    params = SamplingParams(max_new_tokens=8, temperature=1.0, seed=3)
    prompts = ["tom has", "ann has", "a box", "question :"]
    tiny_lm.batch_size = 64
    big = tiny_lm.generate(prompts, params, n=2)
    tiny_lm.batch_size = 2
    small = tiny_lm.generate(prompts, params, n=2)
    assert [[c.token_ids for c in g] for g in big] == [[c.token_ids for c in g] for g in small]


def test_logprobs_are_the_models_log_probabilities(tiny_lm):
    params = SamplingParams(max_new_tokens=5, temperature=0.7, top_k=5, seed=1)
    (completion,) = tiny_lm.generate(["tom has"], params)[0]
    prompt = tiny_lm.tokenizer.encode("tom has", add_bos=True)
    ids = torch.tensor([prompt + list(completion.token_ids)])
    logp = torch.log_softmax(tiny_lm.module(ids)[0], -1)
    positions = range(len(prompt) - 1, len(prompt) - 1 + len(completion.token_ids))
    want = [logp[p, t].item() for p, t in zip(positions, completion.token_ids, strict=True)]
    # Reported under the model's own distribution: temperature and top-k do not change them.
    assert torch.allclose(torch.tensor(completion.logprobs), torch.tensor(want), atol=1e-5)


def test_generation_stops_at_length_and_stop_strings(tiny_lm):
    params = SamplingParams(max_new_tokens=6, temperature=1.0, seed=0)
    for c in tiny_lm.generate(["tom"], params, n=5)[0]:
        assert len(c.token_ids) <= 6
        assert c.finish_reason in {"length", "eos"}
    stop = SamplingParams(max_new_tokens=40, temperature=1.0, seed=0, stop=("apples",))
    for c in tiny_lm.generate(["tom"], stop, n=8)[0]:
        assert "apples" not in c.text
        if c.finish_reason == "stop":
            assert "apples" not in tiny_lm.tokenizer.decode(c.token_ids)


def test_top_k_and_top_p_filtering():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, 2, 1.0)[0, 2:]).all()
    kept = ~torch.isinf(filter_logits(logits, 0, 0.7)[0])
    assert kept.tolist() == [True, True, False, False]  # 0.5 < 0.7, then 0.8 >= 0.7 stops
    greedy = choose_tokens(logits, SamplingParams(temperature=0.0), torch.tensor([[0.99]]))
    assert greedy.item() == 0
    # inverse CDF: u=0.6 falls in the second token's mass [0.5, 0.8)
    assert choose_tokens(logits, SamplingParams(temperature=1.0), torch.tensor([[0.6]])).item() == 1


def test_compiled_decoding_samples_what_eager_decoding_samples(tiny_lm):
    """``compile_decoding`` changes how a step runs, not what it computes: padded prompts of
    different lengths, prefix sharing and an installed hidden transform give the same tokens and
    log-probs as eager decoding (to float rounding)."""
    from quartet.lm.builtin import BuiltinLM

    compiled = BuiltinLM(tiny_lm.module, tiny_lm.tokenizer, batch_size=8, compile_decoding=True)
    prompts = ["tom has 3 apples", "question : what is 5 plus 9 ? answer :"]
    params = SamplingParams(max_new_tokens=16, temperature=1.0, seed=3)
    with torch.no_grad():
        tiny_lm.module.embed_tokens.weight.mul_(6)  # peaked next-token distributions: no near ties
    for transform in (None, lambda h: h.flip(-1)):
        with tiny_lm.hidden_transform(transform):
            want = tiny_lm.generate(prompts, params, n=3)
            got = compiled.generate(prompts, params, n=3)
        for want_group, got_group in zip(want, got, strict=True):
            for w, g in zip(want_group, got_group, strict=True):
                assert g.token_ids == w.token_ids
                assert torch.allclose(torch.tensor(g.logprobs), torch.tensor(w.logprobs), atol=1e-4)
        assert len({c.token_ids for c in want[1]}) > 1  # sampling, not one forced path
