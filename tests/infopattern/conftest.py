"""Shared fixtures for InfoPattern tests: the social data root (skip when absent) and tiny message sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ip_helpers import toy_messages  # noqa: F401  (re-exported for older tests)

from quartet.core.trainer import TrainConfig
from quartet.infopattern.switch import LMSwitch, hidden_dim, message_prompt, train_switch
from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.lm.tokenizer import Tokenizer
from quartet.lm.training import train_lm

SOCIAL = Path(os.environ.get("QUARTET_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "social"


@pytest.fixture
def social_root() -> Path:
    if not SOCIAL.is_dir():
        pytest.skip(f"social data not found at {SOCIAL} (set QUARTET_DATA)")
    return SOCIAL


@pytest.fixture(scope="session")
def trained_switch(tmp_path_factory):
    root = tmp_path_factory.mktemp("switch")
    messages = toy_messages(12)
    pairs = [(message_prompt(m), " " + m.text) for m in messages]
    tok = Tokenizer.train([p + t for p, t in pairs], kind="word")
    lm = BuiltinLM.create(ModelConfig(vocab_size=tok.vocab_size, dim=32, n_layers=2, n_heads=4, max_seq_len=64),
                          tok, seed=0)
    (root / "lm").mkdir()
    train_lm(lm, pairs, TrainConfig(steps=30, batch_size=8, lr=1e-2, warmup_steps=2, log_every=100), root / "lm")
    lm.save(root / "model")
    sw = LMSwitch(hidden_dim(lm), rank=4, seed=1)
    train_switch(lm, sw, messages, TrainConfig(steps=40, batch_size=8, lr=3e-2, warmup_steps=2, weight_decay=0.0),
                 root / "switch_run")
    sw.save(root / "switch", {"template": "topic : {target} . message :"})
    return root, lm, sw
