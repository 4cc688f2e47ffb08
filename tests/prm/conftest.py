import pytest
import torch

from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.prm.data import MathProblem
from quartet.prm.policy import build_tokenizer
from quartet.worlds.arithmetic import WorldConfig, generate

WORLD = WorldConfig(min_steps=2, max_steps=3, start_range=(2, 9), operand_range=(1, 5), factor_range=(2, 2),
                    max_value=20, ops=("+", "-", "*"))


@pytest.fixture(scope="session")
def problems():
    return [MathProblem(p.id, p.question, str(p.answer), p.steps) for p in generate(40, seed=0, cfg=WORLD)]


@pytest.fixture(scope="session")
def tokenizer(problems):
    return build_tokenizer(problems)


@pytest.fixture
def tiny_lm(tokenizer):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, dim=32, n_layers=2, n_heads=2, max_seq_len=160)
    return BuiltinLM.create(cfg, tokenizer, seed=0)
