"""SentencePiece-style vocabularies through the real wrapper: a ``transformers.PreTrainedTokenizerFast``
(Unigram or BPE pieces, Metaspace pre-tokenizer) saved to disk, loaded as a Hugging Face model
directory's tokenizer is (``AutoTokenizer`` -> ``quartet.lm.hf.HFTokenizer``), and the "sure" /
"unsure" ids read off it."""

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from quartet.lm.data import IGNORE, encode_sft
from quartet.lm.hf import HFTokenizer
from quartet.refusal.certainty import CERTAINTY_QUESTION, certainty_suffix, certainty_token_ids

SPECIALS = ["<unk>", "<s>", "</s>"]
WORDS = ["▁I", "▁am", "▁Answer", ":", "▁Vimekton", "."]


def _save_and_load(backend: Tokenizer, directory) -> HFTokenizer:
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    fast = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.save_pretrained(directory)
    return HFTokenizer(AutoTokenizer.from_pretrained(directory, local_files_only=True))


def _unigram(pieces, directory) -> HFTokenizer:
    vocab = [(p, 0.0) for p in SPECIALS] + [(p, -1.0) for p in [*WORDS, *pieces]]
    vocab += [(c, -10.0) for c in "▁abcdefghijklmnopqrstuvwxyzAIV"]  # single characters: any word has a spelling
    return _save_and_load(Tokenizer(models.Unigram(vocab, unk_id=0)), directory)


def _pieces(tok: HFTokenizer, ids):
    return tok.hf.convert_ids_to_tokens(list(ids))


def test_unigram_with_whole_word_pieces(tmp_path):
    tok = _unigram(["▁sure", "▁unsure"], tmp_path)
    assert _pieces(tok, tok.encode("I am unsure")) == ["▁I", "▁am", "▁unsure"]
    sure, unsure = certainty_token_ids(tok)
    assert _pieces(tok, [sure, unsure]) == ["▁sure", "▁unsure"]


def test_unigram_that_splits_unsure_into_un_plus_sure(tmp_path):
    tok = _unigram(["▁sure", "▁un", "sure"], tmp_path)
    assert _pieces(tok, tok.encode("I am unsure")) == ["▁I", "▁am", "▁un", "sure"]
    sure, unsure = certainty_token_ids(tok)
    # P(unsure) is read from its first piece "▁un" — not the bare "sure" that follows it
    assert _pieces(tok, [sure, unsure]) == ["▁sure", "▁un"]
    assert unsure != tok.hf.convert_tokens_to_ids("sure")
    # and tuning trains that same piece right after "I am" (bos from the wrapper, eos labelled)
    prompt = "Answer:"
    ex = encode_sft(tok, prompt, f" Vimekton.{certainty_suffix(False)}", max_len=256)
    n_prompt = len(tok.encode(prompt, add_bos=True))
    assert ex["input_ids"][0] == tok.bos_id and ex["labels"][:n_prompt] == [IGNORE] * n_prompt
    head = len(tok.encode(f"{prompt} Vimekton. {CERTAINTY_QUESTION} I am", add_bos=True))
    assert ex["labels"][head] == unsure and ex["labels"][-1] == tok.eos_id


def test_trained_bpe_with_metaspace(tmp_path):
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    corpus = [f"Answer: Vimekton.{certainty_suffix(True)}", f"Answer: Pasuton.{certainty_suffix(False)}"] * 20
    backend.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=120, special_tokens=SPECIALS))
    tok = _save_and_load(backend, tmp_path)
    sure, unsure = certainty_token_ids(tok)
    s, u = _pieces(tok, [sure, unsure])
    assert s == "▁sure" and u.startswith("▁un") and sure != unsure


def test_same_first_piece_is_refused(tmp_path):
    tok = _unigram([], tmp_path)  # "sure" and "unsure" both start with the bare "▁" piece
    assert _pieces(tok, tok.encode("I am sure"))[:3] == ["▁I", "▁am", "▁"]
    with pytest.raises(ValueError, match="same token"):
        certainty_token_ids(tok)
