"""Shared fixtures: tiny tokenizers and models built in code, offline, seeded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QUARTET_PROGRESS", "0")

CORPUS = [
    "tom has 3 apples and buys 4 more . now tom has 7 apples .",
    "ann has 10 pens and gives away 2 . now ann has 8 pens .",
    "a box holds 6 eggs . two boxes hold 12 eggs .",
    "question : what is 5 plus 9 ? answer : 14 .",
    "the capital of zorland is mirvale . i am sure .",
    "the founder of kelco was born in 1890 . i am unsure .",
]


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip, with the reason, on machines without CUDA."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def data_dir() -> Path | None:
    """Root of the shared data sets, or None when they are not on this machine."""
    root = Path(os.environ.get("QUARTET_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    return root if root.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    root = data_dir()
    if root is None:
        pytest.skip("shared data not present (set QUARTET_DATA)")
    return root


@pytest.fixture(scope="session")
def word_tokenizer():
    from quartet.lm.tokenizer import Tokenizer

    return Tokenizer.train(CORPUS * 2, kind="word", extra_tokens=("<step>",))


@pytest.fixture
def tiny_lm(word_tokenizer):
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.model import ModelConfig

    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=word_tokenizer.vocab_size, dim=32, n_layers=2, n_heads=4, max_seq_len=128)
    return BuiltinLM.create(cfg, word_tokenizer, seed=0, batch_size=8)


@pytest.fixture
def corpus() -> list[str]:
    return list(CORPUS)
