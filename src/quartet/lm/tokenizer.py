"""The built-in tokenizer: a Hugging Face ``tokenizers`` model trained on a corpus.

Two kinds: ``word`` (whitespace/punctuation split, one id per word — small worlds with
regular vocabularies learn fastest with it) and ``bpe`` (byte-level BPE, for open text).
Special tokens: ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>`` and any extra tokens a system
registers (a step tag, say); extra tokens are never split and always map to one id.

>>> tok = Tokenizer.train(["two plus two is four", "two times two is four"], kind="word")
>>> tok.decode(tok.encode("two plus two is four"))
'two plus two is four'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

from quartet.core.io import atomic_write_text

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
TOKENIZER_FILE = "tokenizer.json"


class Tokenizer:
    """Implements ``quartet.lm.protocol.TextTokenizer`` over a ``tokenizers.Tokenizer``."""

    def __init__(self, backend: HFTokenizer, kind: Literal["word", "bpe"]):
        self.backend = backend
        self.kind = kind
        missing = [t for t in SPECIAL_TOKENS if backend.token_to_id(t) is None]
        if missing:
            raise ValueError(f"tokenizer lacks special tokens {missing}")

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        kind: Literal["word", "bpe"] = "word",
        vocab_size: int = 4096,
        min_frequency: int = 1,
        extra_tokens: Sequence[str] = (),
    ) -> Tokenizer:
        specials = list(SPECIAL_TOKENS) + [t for t in extra_tokens if t not in SPECIAL_TOKENS]
        if kind == "word":
            backend = HFTokenizer(models.WordLevel(unk_token="<unk>"))
            backend.normalizer = normalizers.NFKC()
            # Words carry their leading space as "▁" (so decoding is exact), punctuation is split
            # off, and digits go one at a time: a number never seen still has a spelling.
            backend.pre_tokenizer = pre_tokenizers.Sequence(
                [
                    pre_tokenizers.Metaspace(prepend_scheme="always"),
                    pre_tokenizers.Punctuation(),
                    pre_tokenizers.Digits(individual_digits=True),
                ]
            )
            backend.decoder = decoders.Metaspace(prepend_scheme="always")
            trainer = trainers.WordLevelTrainer(
                vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials
            )
        elif kind == "bpe":
            backend = HFTokenizer(models.BPE(unk_token="<unk>"))
            backend.normalizer = normalizers.NFKC()
            backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            backend.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(
                vocab_size=vocab_size,
                min_frequency=min_frequency,
                special_tokens=specials,
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            )
        else:
            raise ValueError(f"unknown tokenizer kind {kind!r} (word or bpe)")
        backend.train_from_iterator(texts, trainer=trainer)
        return cls(backend, kind)

    # --- TextTokenizer -------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    @property
    def pad_id(self) -> int:
        return self.backend.token_to_id("<pad>")

    @property
    def eos_id(self) -> int:
        return self.backend.token_to_id("<eos>")

    @property
    def bos_id(self) -> int:
        return self.backend.token_to_id("<bos>")

    def token_to_id(self, token: str) -> int | None:
        return self.backend.token_to_id(token)

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        ids = self.backend.encode(text, add_special_tokens=False).ids
        return [self.bos_id, *ids] if add_bos else ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=False)

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.backend.id_to_token(i) for i in ids]

    # --- persistence ------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        data = json.loads(self.backend.to_str())
        data["quartet_kind"] = self.kind  # removed again before ``tokenizers`` parses the file
        atomic_write_text(directory / TOKENIZER_FILE, json.dumps(data))

    @classmethod
    def load(cls, directory: str | Path) -> Tokenizer:
        path = Path(directory) / TOKENIZER_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
        data = json.loads(path.read_text())
        kind = data.pop("quartet_kind", "bpe" if data["model"]["type"] == "BPE" else "word")
        return cls(HFTokenizer.from_str(json.dumps(data)), kind)
