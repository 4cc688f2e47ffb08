"""``quartet lm`` end to end: train, resume after a kill (bit-identical), sample, export."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from safetensors.torch import load_file

from quartet.cli import main

REPO = Path(__file__).resolve().parents[2]
TEST_CONFIG = REPO / "configs" / "lm" / "test.yaml"


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("QUARTET_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _exported_model_matches_the_run(run: Path, exported: Path) -> None:
    """The trained model, exported by the CLI and loaded by transformers, gives the built-in model's
    logits (to 1e-4) on a padded batch of prompts of different lengths, and its greedy tokens."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from quartet.lm.backends import load_lm
    from quartet.lm.generate import left_pad
    from quartet.lm.protocol import SamplingParams

    ours = load_lm(run)
    hf = LlamaForCausalLM.from_pretrained(exported, local_files_only=True).eval()
    prompts = ["Question : Tom has 3 pens .", "Question : Ann buys 12 books and gives 5 to Ben . How many"]
    encoded = [ours.tokenizer.encode(p, add_bos=True) for p in prompts]
    assert AutoTokenizer.from_pretrained(exported)(prompts[1])["input_ids"][-len(encoded[1]) + 1:] == encoded[1][1:]
    ids, mask = left_pad(encoded, ours.tokenizer.pad_id)
    with torch.no_grad():
        want = ours.module(ids, attention_mask=mask)
        got = hf(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0)).logits
    real = mask.bool()  # padding positions are not compared
    assert want.abs().max() > 0.5  # trained weights, not the near-zero logits of an initialisation
    assert torch.allclose(want[real], got[real], atol=1e-4)
    greedy = SamplingParams(max_new_tokens=12, temperature=0.0)
    for prompt, row in zip(prompts, encoded, strict=True):
        mine = ours.generate([prompt], greedy)[0][0].token_ids
        out = hf.generate(torch.tensor([row]), max_new_tokens=len(mine) or 1, do_sample=False,
                          eos_token_id=ours.tokenizer.eos_id, pad_token_id=ours.tokenizer.pad_id)
        theirs = tuple(out[0, len(row):].tolist())
        assert theirs[: len(mine)] == mine and len(theirs) >= len(mine)


def test_train_sample_export(runs, tmp_path, capsys):
    assert main(["lm", "train", "--config", str(TEST_CONFIG)]) == 0
    run = runs / "lm" / "test"
    assert (run / "config.yaml").is_file() and (run / "model" / "model.safetensors").is_file()
    assert (run / "checkpoints" / "step_6").is_dir()
    assert main(["lm", "sample", "--run", str(run), "--prompt", "Question :", "--n", "2",
                 "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.count("--- sample") == 2
    greedy = ["lm", "sample", "--run", str(run), "--prompt", "Question :", "--temperature", "0", "--max-new-tokens", "8"]
    assert main(greedy) == 0
    eager = capsys.readouterr().out
    assert main([*greedy, "--compile"]) == 0
    assert capsys.readouterr().out == eager
    assert main(["lm", "export", "--run", str(run), "--to", "hf", str(tmp_path / "hf")]) == 0
    _exported_model_matches_the_run(run, tmp_path / "hf")
    from quartet.lm.backends import load_lm

    for other_backend in (tmp_path / "hf", "http://127.0.0.1:9/v1"):  # transformers, a served model
        with pytest.raises(ValueError, match="compile_decoding applies to the built-in model"):
            load_lm(other_backend, compile_decoding=True)

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "quartet.cli", "lm", "serve", "--run", str(run),
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                if httpx.get(f"{url}/models").json()["data"][0]["id"] == "test":
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        capsys.readouterr()
        assert main(["lm", "sample", "--run", url, "--prompt", "Question :", "--n", "2", "--max-new-tokens", "4",
                     "--temperature", "0"]) == 0
        assert capsys.readouterr().out.count("--- sample") == 2
    finally:
        server.terminate()
        server.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_override_is_a_clear_error(runs, capsys):
    assert main(["lm", "train", "--config", str(TEST_CONFIG), "train.stepz=3"]) == 2
    assert "stepz" in capsys.readouterr().err


def _train_command(name: str) -> list[str]:
    overrides = [f"name={name}", "train.steps=200", "train.checkpoint_every=20", "train.log_every=20"]
    return [sys.executable, "-m", "quartet.cli", "lm", "train", "--config", str(TEST_CONFIG), *overrides]


def test_resume_after_kill_is_bit_identical(runs):
    env = {**os.environ, "QUARTET_RUNS": str(runs), "OMP_NUM_THREADS": "1"}
    subprocess.run(_train_command("whole"), env=env, check=True, capture_output=True)

    cut = runs / "lm" / "cut"
    job = subprocess.Popen(_train_command("cut"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (cut / "checkpoints" / "step_40").is_dir():
        assert job.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    steps = sorted(int(p.name.split("_")[1]) for p in (cut / "checkpoints").glob("step_*"))
    assert steps[-1] < 200 and not (cut / "model").exists(), "the kill must land mid-run"

    subprocess.run(_train_command("cut"), env=env, check=True, capture_output=True)
    whole = load_file(runs / "lm" / "whole" / "model" / "model.safetensors")
    resumed = load_file(cut / "model" / "model.safetensors")
    assert whole.keys() == resumed.keys()
    assert all((whole[k] == resumed[k]).all() for k in whole)
