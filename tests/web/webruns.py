"""Tiny real run folders for the PRM, refusal and denoise pages, laid out as their pipelines write them.

The models are untrained (random weights, built in code in well under a second): the pages'
loaders, adapters and routes run for real; the numbers they show mean nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.lm.tokenizer import Tokenizer


def _done(run: Path, *stages: str) -> None:
    (run / "stages").mkdir(parents=True, exist_ok=True)
    for stage in stages:
        (run / "stages" / f"{stage}.done").write_text("{}")


def make_prm_run(run: Path) -> Path:
    """``policy/``, ``prm/er2/model`` and ``prm/hard/model`` (finished), ``prm/soft/model`` (unfinished)."""
    from quartet.prm.data import MathProblem
    from quartet.prm.pipeline import _write_problems
    from quartet.prm.policy import build_tokenizer
    from quartet.worlds.arithmetic import WorldConfig, train_test_split

    train, test = train_test_split(30, 4, seed=0, cfg=WorldConfig(min_steps=2, max_steps=2))
    problems = [MathProblem(p.id, p.question, str(p.answer), p.steps, "answer_is") for p in train + test]
    tok = build_tokenizer(problems)
    cfg = ModelConfig(vocab_size=tok.vocab_size, dim=32, n_layers=2, n_heads=2, max_seq_len=160)
    BuiltinLM.create(cfg, tok, seed=0).save(run / "policy")
    for i, name in enumerate(("er2", "hard", "soft")):
        BuiltinLM.create(cfg, tok, seed=i + 1).save(run / "prm" / name / "model")
    _write_problems(run / "data" / "test.jsonl", problems[len(train):])
    (run / "config.yaml").write_text("name: web-test\nrollout: {temperature: 1.0, max_new_tokens: 24}\n")
    _done(run, "world", "sft", "train_er2", "train_hard")
    return run


def make_refusal_run(run: Path) -> Path:
    """``tune/{rtuning,vanilla}/s0/model`` (finished) and a test set with two questions."""
    from quartet.refusal.build import DEFAULT_REFUSALS
    from quartet.refusal.certainty import certainty_suffix

    questions = ["Where was Ava Lind born?", "Which company did Omar Vance found?"]
    corpus = [f"Question: {q} Answer: Paris." for q in questions]
    corpus += [certainty_suffix(True) + certainty_suffix(False), *DEFAULT_REFUSALS]
    tok = Tokenizer.train(corpus, kind="word")
    cfg = ModelConfig(vocab_size=tok.vocab_size, dim=32, n_layers=2, n_heads=2, max_seq_len=96)
    for i, method in enumerate(("rtuning", "vanilla")):
        BuiltinLM.create(cfg, tok, seed=i).save(run / "tune" / method / "s0" / "model")
    (run / "data").mkdir(parents=True)
    (run / "data" / "sets.json").write_text(json.dumps({"test_id": "id"}))
    (run / "data" / "test_id.jsonl").write_text("".join(json.dumps({
        "id": f"q{i}", "prompt": f"Question: {q} Answer:", "question": q, "answers": ["Paris"], "answerable": True,
        "choices": [], "gold": None, "group": "born_in", "stated": True}) + "\n" for i, q in enumerate(questions)))
    (run / "config.yaml").write_text("name: web-test\neval: {threshold: 0.5}\nprobe: {max_new_tokens: 4}\n")
    _done(run, "world", "pretrain", "probe", "build", "tune_rtuning_s0", "tune_vanilla_s0")
    return run


def make_denoise_run(run: Path, attention: str = "spa", levels: int = 2) -> Path:
    """One training run with ``checkpoints/step_2`` of a width-8 denoiser."""
    from quartet.core.checkpoint import save_weights
    from quartet.core.config import to_dict
    from quartet.denoise.network import DenoiserConfig, build_denoiser

    cfg = DenoiserConfig(channels=3, width=8, blocks=1, attention=attention, levels=levels)
    save_weights(build_denoiser(cfg), run / "checkpoints" / "step_2", to_dict(cfg))
    return run


def noisy_png(path: Path, size: tuple[int, int] = (48, 40), seed: int = 0) -> Path:
    """A smooth gradient with Gaussian noise, saved as PNG (or JPEG by the suffix)."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    clean = np.stack([xx / w, yy / h, 0.5 + 0 * xx], axis=-1)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1)
    Image.fromarray((noisy * 255).round().astype(np.uint8)).save(path)
    return path
