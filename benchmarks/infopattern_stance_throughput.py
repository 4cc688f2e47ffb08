"""Stance-detector throughput on CPU: messages per second for each detector, one batch of 1,000 messages.

Claim measured: the three detectors' prediction speed, relative to the TF-IDF baseline measured in
the same run (``ratio_vs_tfidf``; these machines are noisy, absolute numbers alone mean little).
Messages come from the built-in message set (about 12 words each); the switch-likelihood detector
runs the tiny.yaml LM size (BPE vocabulary 2000, width 64, 2 layers) with a rank-8 switch and five
switch values, i.e. five LM passes per message. Speed does not depend on how well the LM is trained,
so the LM and switch here are untrained.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/infopattern_stance_throughput.py
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import torch

from quartet.infopattern.stance import EncoderStance, TfidfStance
from quartet.infopattern.stance.switch_likelihood import SwitchLikelihoodStance
from quartet.infopattern.switch import LMSwitch, message_prompt
from quartet.infopattern.synthetic import builtin_messages
from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.lm.tokenizer import Tokenizer

N = 1000


def timed(detector, messages) -> float:
    detector.predict(messages[:8])  # warm-up (lazy model loading, first-call overheads)
    started = time.perf_counter()
    detector.predict(messages)
    return len(messages) / (time.perf_counter() - started)


def main() -> None:
    torch.manual_seed(0)
    train, batch = builtin_messages(400, seed=0), builtin_messages(N, seed=1, split="bench")
    tok = Tokenizer.train([message_prompt(m) + " " + m.text for m in train] * 5, kind="bpe", vocab_size=2000)
    lm = BuiltinLM.create(ModelConfig(vocab_size=2000, dim=64, n_layers=2, n_heads=4, max_seq_len=128), tok,
                          batch_size=64)
    switch = LMSwitch(64, rank=8)
    with torch.no_grad():
        switch.p2.normal_(std=0.05)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        detectors = {
            "tfidf": TfidfStance().fit(train),
            "encoder": EncoderStance(max_seq_length=128).fit(train),
            "switch": SwitchLikelihoodStance(Path(tmp) / "lm", Path(tmp) / "switch", lm=lm, switch=switch).fit(train),
        }
        for name, detector in detectors.items():
            results[name] = round(timed(detector, batch), 1)
    print(json.dumps({
        "benchmark": "infopattern_stance_throughput", "messages": N, "threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "messages_per_second": results,
        "ratio_vs_tfidf": {k: round(v / results["tfidf"], 4) for k, v in results.items()},
    }))


if __name__ == "__main__":
    main()
