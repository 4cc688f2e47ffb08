import torch

from quartet.lm.generate import choose_tokens, filter_logits, left_pad
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
