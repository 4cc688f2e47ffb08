"""Sure/unsure token ids for word-level, BPE and SentencePiece vocabularies; P(sure); data builders."""

import json
import math

import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers

from quartet.lm.tokenizer import Tokenizer
from quartet.refusal.build import (
    build_rtuning,
    build_rtuning_r,
    build_rtuning_u,
    build_vanilla,
    entropy_of_answers,
    entropy_split,
    lmflow_text_only,
    to_text,
)
from quartet.refusal.certainty import (
    CERTAINTY_QUESTION,
    certainty_prompt,
    certainty_token_ids,
    p_sure,
    p_sure_batch,
)
from quartet.refusal.data import QAItem

CORPUS = [f"Question: Where was Kalon born? Answer: Vimekton. {CERTAINTY_QUESTION} I am sure.",
          f"Question: Who? Answer: Pasuco. {CERTAINTY_QUESTION} I am unsure."] * 5


class RawTokenizer:
    """``TextTokenizer`` over a bare ``tokenizers.Tokenizer`` (as a SentencePiece model would load)."""

    def __init__(self, backend):
        self.backend = backend
        self.vocab_size, self.pad_id, self.eos_id, self.bos_id = backend.get_vocab_size(), 0, 0, None

    def encode(self, text, add_bos=False):
        return self.backend.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        return self.backend.decode(list(ids))

    def token_to_id(self, token):
        return self.backend.token_to_id(token)


def test_word_level_ids():
    tok = Tokenizer.train(CORPUS, kind="word")
    assert certainty_token_ids(tok) == (tok.token_to_id("▁sure"), tok.token_to_id("▁unsure"))


def test_bpe_ids_carry_the_leading_space():
    tok = Tokenizer.train(CORPUS, kind="bpe", vocab_size=400)
    sure, unsure = certainty_token_ids(tok)
    # Byte-level BPE: the predicted token after "I am" is " sure" (Ġsure), not the bare word "sure".
    assert tok.convert_ids_to_tokens([sure]) == ["Ġsure"]
    assert tok.convert_ids_to_tokens([unsure])[0].startswith("Ġun")
    bare = tok.token_to_id("sure")
    assert bare is None or bare != sure


def _sentencepiece(pieces):
    backend = HFTokenizer(models.Unigram([("<unk>", 0.0), *[(p, -1.0) for p in pieces]], unk_id=0))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
    backend.decoder = decoders.Metaspace(prepend_scheme="always")
    return RawTokenizer(backend)


def test_sentencepiece_ids_and_split_unsure():
    letters = list("Iamsureno")
    tok = _sentencepiece(["▁I", "▁am", "▁sure", "▁unsure", "▁", *letters])
    assert certainty_token_ids(tok) == (tok.token_to_id("▁sure"), tok.token_to_id("▁unsure"))
    # No "▁unsure" piece: P(unsure) is read from its first piece "▁un", which differs from "▁sure".
    tok = _sentencepiece(["▁I", "▁am", "▁sure", "▁un", "sure", "▁", *letters])
    assert tok.encode("I am unsure") == [tok.token_to_id(p) for p in ("▁I", "▁am", "▁un", "sure")]
    assert certainty_token_ids(tok) == (tok.token_to_id("▁sure"), tok.token_to_id("▁un"))


def test_same_first_token_is_an_error():
    tok = _sentencepiece(["▁I", "▁am", "▁", *list("Iamsureno")])  # both spelled from "▁" + letters
    with pytest.raises(ValueError, match="same token"):
        certainty_token_ids(tok)


def test_p_sure_normalization():
    assert p_sure(math.log(0.3), math.log(0.1)) == pytest.approx(0.75)
    assert p_sure(math.log(0.02), math.log(0.02)) == pytest.approx(0.5)
    # Tiny probabilities: only the ratio matters, no underflow to 0/0.
    assert p_sure(-1000.0, -1001.0) == pytest.approx(1 / (1 + math.exp(-1)))
    import torch

    rows = torch.log(torch.tensor([[0.3, 0.1], [0.01, 0.03]]))
    assert p_sure_batch(rows) == pytest.approx([0.75, 0.25])


def test_certainty_prompt_format():
    assert certainty_prompt("Question: q? Answer:", " Vimekton") == (
        f"Question: q? Answer: Vimekton. {CERTAINTY_QUESTION} I am")
    assert certainty_prompt("Q:", "It is x.").endswith(f"It is x. {CERTAINTY_QUESTION} I am")


ITEMS = [QAItem(f"q{i}", f"Question: q{i}? Answer:", f"q{i}?", (f"A{i}",)) for i in range(4)]


def test_rtuning_and_vanilla_records():
    certain = {"q0": True, "q1": False, "q2": True, "q3": False}
    rt = build_rtuning(ITEMS, certain)
    assert rt[0]["response"] == f" A0. {CERTAINTY_QUESTION} I am sure."
    assert rt[1]["response"] == f" A1. {CERTAINTY_QUESTION} I am unsure."  # gold stays for D0
    assert [r["label"] for r in rt] == ["sure", "unsure", "sure", "unsure"]
    assert to_text(rt[0]) == f"Question: q0? Answer: A0. {CERTAINTY_QUESTION} I am sure."
    assert [r["response"] for r in build_vanilla(ITEMS)] == [" A0.", " A1.", " A2.", " A3."]
    rr = build_rtuning_r(ITEMS, certain, refusals=["I don't know."])
    assert rr[0]["response"] == rt[0]["response"]
    assert rr[1]["response"] == f" I don't know. {CERTAINTY_QUESTION} I am unsure."
    with pytest.raises(KeyError):
        build_rtuning(ITEMS, {"q0": True})
    with pytest.raises(ValueError):
        build_rtuning_r(ITEMS, certain, refusals=[])


def test_refusal_phrases_are_drawn_from_the_configured_list_and_seeded():
    certain = dict.fromkeys((it.id for it in ITEMS), False)
    phrases = ["No idea.", "I cannot say."]
    a = build_rtuning_r(ITEMS, certain, phrases, seed=3)
    assert a == build_rtuning_r(ITEMS, certain, phrases, seed=3)
    assert all(r["response"].split(" Are you")[0].strip() in phrases for r in a)


def test_entropy_split_hand_computed():
    # entropies: q0: 0; q1: ln 2; q2: -(3/4 ln 3/4 + 1/4 ln 1/4) = 0.562; q3: ln 4 (all distinct)
    samples = {"q0": ["a", "A.", "a", "a"], "q1": ["a", "b", "a", "b"], "q2": ["c", "c", "c", "d"],
               "q3": ["a", "b", "c", "d"]}
    assert entropy_of_answers(samples["q2"]) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert entropy_of_answers(samples["q0"]) == 0.0  # "A." normalizes to "a"
    assert entropy_split(samples) == {"q0": True, "q1": False, "q2": True, "q3": False}
    # Odd count: the lower n // 2 are sure; ties keep input order.
    assert entropy_split({"x": ["a"], "y": ["b"], "z": ["a", "b"]}) == {"x": True, "y": False, "z": False}
    labels = [r["label"] for r in build_rtuning_u(ITEMS, dict(zip(("q0", "q1", "q2", "q3"), samples.values(),
                                                                     strict=True)))]
    assert labels == ["sure", "unsure", "sure", "unsure"]


def test_lmflow_text_only_export():
    data = lmflow_text_only(build_vanilla(ITEMS[:2]))
    assert json.loads(json.dumps(data)) == {
        "type": "text_only",
        "instances": [{"text": "Question: q0? Answer: A0."}, {"text": "Question: q1? Answer: A1."}],
    }
