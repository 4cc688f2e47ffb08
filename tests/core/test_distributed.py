"""Data-parallel training: 2 gloo processes match 1 process on the same global batch, and resume.

Also: each rank's device, rank-0-only writes in the shared helpers (and a system trainer, the
denoiser, under torchrun writing from rank 0 alone), and FSDP sharding on CPU with gloo.

Run as a script under torchrun (``torchrun … tests/core/test_distributed.py ROOT quartet-args``)
this file starts ``quartet`` with ``QUARTET_RUNS=ROOT/rank<RANK>``, so each rank has its own
runs folder and a test can see exactly what a non-zero rank wrote.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from quartet.core import distributed
from quartet.core.io import atomic_write_json
from quartet.core.records import AppendOnlyJsonl, write_jsonl
from quartet.core.runs import open_run
from quartet.core.trainer import TrainConfig, Trainer
from quartet.lm.protocol import SamplingParams

REPO = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).parent / "torchrun"


# torchrun picks a free port itself: a port chosen here and released could be taken again before
# the launcher binds it.
STANDALONE = ("--standalone",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_regressor(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from torch import nn

    torch.manual_seed(rank)  # different on purpose: rank 0's initial weights must win
    module = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(64, 4, generator=gen)
    data = [{"x": x[i], "y": x[i].sum()} for i in range(64)]

    def loss_fn(m, batch):
        return ((m(batch["x"]).squeeze(-1) - batch["y"]) ** 2).mean(), {}

    def collate(items):
        return {"x": torch.stack([i["x"] for i in items]), "y": torch.stack([i["y"] for i in items])}

    cfg = TrainConfig(steps=10, batch_size=8, lr=1e-2, warmup_steps=2, log_every=1)
    Trainer(module, loss_fn, data, collate, cfg, open_run(Path(out), cfg), {}).fit()
    torch.distributed.destroy_process_group() if world > 1 else None


def _run(cmd: list[str], env: dict[str, str]) -> None:
    """Run a launcher command; a failure shows the end of what the processes printed."""
    # timeout: a rank left waiting in a collective must fail the test, not hang it
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-4000:]}"


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()
            if "loss" in json.loads(line)]


def test_two_processes_match_one_on_the_same_global_batch(tmp_path):
    _train_regressor(0, 1, 0, str(tmp_path / "one"))
    mp.spawn(_train_regressor, args=(2, free_port(), str(tmp_path / "two")), nprocs=2)
    # Equal shards of a per-example mean: the same numbers up to float summation order.
    assert _losses(tmp_path / "one") == pytest.approx(_losses(tmp_path / "two"), rel=1e-5, abs=1e-6)
    one = load_file(tmp_path / "one" / "checkpoints" / "step_10" / "model.safetensors")
    two = load_file(tmp_path / "two" / "checkpoints" / "step_10" / "model.safetensors")
    assert all(torch.allclose(one[k], two[k], atol=1e-5) for k in one)


def _torchrun(nproc: int, name: str, runs: Path, steps: int) -> list[str]:
    return [str(TORCHRUN), *STANDALONE, "--nproc-per-node", str(nproc),
            "-m", "quartet.cli", "lm", "train", "--config", str(REPO / "configs" / "lm" / "test.yaml"),
            f"name={name}", f"train.steps={steps}", "train.checkpoint_every=10", "train.log_every=5"]


@pytest.mark.skipif(not TORCHRUN.is_file(), reason="torchrun is not installed next to this Python")
def test_lm_cli_under_torchrun_matches_one_process_and_resumes_after_a_kill(tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "QUARTET_RUNS": str(runs), "OMP_NUM_THREADS": "1"}
    _run(_torchrun(1, "one", runs, 30), env)
    _run(_torchrun(2, "two", runs, 30), env)
    # Each process averages the loss over its own tokens; shards of unequal token counts make
    # the 2-process mean differ slightly from the 1-process one: 2% is the stated tolerance.
    assert _losses(runs / "lm" / "one") == pytest.approx(_losses(runs / "lm" / "two"), rel=0.02)
    # `accelerate launch` starts the same processes with the same environment: the same numbers.
    accelerate = [str(TORCHRUN.parent / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2",
                  "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                  "--main_process_port", str(free_port()), *_torchrun(2, "accel", runs, 30)[4:]]
    _run(accelerate, env)
    assert _losses(runs / "lm" / "accel") == pytest.approx(_losses(runs / "lm" / "two"), abs=1e-6)

    cut = runs / "lm" / "cut"
    _kill_after_checkpoint(_torchrun(2, "cut", runs, 100), env, cut, 20)
    _run(_torchrun(2, "cut", runs, 100), env)
    _run(_torchrun(2, "whole", runs, 100), env)
    whole = load_file(runs / "lm" / "whole" / "model" / "model.safetensors")
    resumed = load_file(cut / "model" / "model.safetensors")
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def _kill_after_checkpoint(cmd: list[str], env: dict[str, str], run: Path, step: int) -> None:
    job = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / f"step_{step}").is_dir():
        assert job.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)  # the launcher and both workers
    job.wait()
    assert not (run / "model").exists(), "the kill must land mid-run"


@pytest.mark.skipif(not TORCHRUN.is_file(), reason="torchrun is not installed next to this Python")
def test_lm_cli_with_fsdp_matches_ddp_saves_whole_weights_and_resumes_after_a_kill(tmp_path):
    """``train.parallel=fsdp``: the same losses as replicated training, a saved model that one
    process loads (gathered, not shards), and a kill mid-run resumed from the gathered checkpoint
    ends with the uninterrupted run's weights."""
    runs = tmp_path / "runs"
    env = {**os.environ, "QUARTET_RUNS": str(runs), "OMP_NUM_THREADS": "1"}
    fsdp = ["train.parallel=fsdp"]
    _run(_torchrun(2, "ddp", runs, 30), env)
    _run(_torchrun(2, "fsdp", runs, 30) + fsdp, env)
    assert _losses(runs / "lm" / "fsdp") == pytest.approx(_losses(runs / "lm" / "ddp"), rel=1e-4)
    ddp = load_file(runs / "lm" / "ddp" / "model" / "model.safetensors")
    sharded = load_file(runs / "lm" / "fsdp" / "model" / "model.safetensors")
    assert sorted(sharded) == sorted(ddp) and all(sharded[k].shape == ddp[k].shape for k in ddp)
    assert all(torch.allclose(sharded[k], ddp[k], atol=1e-4) for k in ddp)
    from quartet.lm.backends import load_lm

    assert load_lm(runs / "lm" / "fsdp").generate(["Question :"], SamplingParams(max_new_tokens=3))[0][0].token_ids

    cut = runs / "lm" / "cut"
    _kill_after_checkpoint(_torchrun(2, "cut", runs, 100) + fsdp, env, cut, 20)
    _run(_torchrun(2, "cut", runs, 100) + fsdp, env)
    _run(_torchrun(2, "whole", runs, 100) + fsdp, env)
    whole = load_file(runs / "lm" / "whole" / "model" / "model.safetensors")
    resumed = load_file(cut / "model" / "model.safetensors")
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "checkpoints" not in p.parts)


@pytest.mark.skipif(not TORCHRUN.is_file(), reason="torchrun is not installed next to this Python")
@pytest.mark.parametrize("system", ["prm", "refusal"])
def test_a_whole_pipeline_runs_under_torchrun_in_one_shared_runs_folder(system, tmp_path):
    """Every stage of a pipeline on 2 processes that share the runs folder, as on one machine or a
    shared file system: each stage ends at a barrier, so a rank reads only files rank 0 finished,
    and the run holds the same files as a 1-process run (its SFT/PRM/tuning steps ran data-parallel)."""
    config = str(REPO / "configs" / system / "test.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, "-m", "quartet.cli", system, "pipeline", "--config", config],
         {**env, "QUARTET_RUNS": str(one)})
    _run([str(TORCHRUN), *STANDALONE, "--nproc-per-node", "2", "-m", "quartet.cli", system, "pipeline",
          "--config", config], {**env, "QUARTET_RUNS": str(two)})
    assert _files(two) == _files(one)


# --- devices and rank-0 writes ---------------------------------------------------------------


def test_every_rank_computes_on_the_cpu_with_gloo_when_there_is_no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.local_device() == torch.device("cpu")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.setup() == (0, 1)  # no launcher: no process group


def test_under_a_launcher_each_rank_binds_the_gpu_of_its_local_rank(monkeypatch):
    # CUDA is faked: on this CPU machine the binding itself is what is checked.
    bound = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", bound.append)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.local_device() == torch.device("cuda", 1) and bound == [1]
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(RuntimeError, match="LOCAL_RANK 2 but only 2 GPU"):
        distributed.local_device()
    monkeypatch.delenv("LOCAL_RANK")
    assert distributed.local_device() == torch.device("cuda")  # one process: the default GPU


def test_shared_write_helpers_write_nothing_on_a_non_zero_rank(monkeypatch, tmp_path):
    results = tmp_path / "results.jsonl"
    results.write_bytes(b'{"id": 0}\n{"id": 1}\n{"id": 2, "par')  # rank 0 is mid-way through a line
    monkeypatch.setenv("RANK", "1")
    atomic_write_json(tmp_path / "sub" / "a.json", {"x": 1})
    write_jsonl(tmp_path / "b.jsonl", [{"x": 1}])
    store = AppendOnlyJsonl(results, key=lambda r: r["id"])
    store.append({"id": 1, "mine": True})
    store.append({"id": 5})
    AppendOnlyJsonl(tmp_path / "new" / "r.jsonl", key=str).append({"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl"]
    # Untouched on disk (not repaired, not appended); this rank still sees its own records.
    assert results.read_bytes().endswith(b'{"id": 2, "par')
    assert store.records() == [{"id": 0}, {"id": 1, "mine": True}, {"id": 5}] and store.done() == {0, 1, 5}
    monkeypatch.setenv("RANK", "0")
    atomic_write_json(tmp_path / "sub" / "a.json", {"x": 1})
    assert json.loads((tmp_path / "sub" / "a.json").read_text()) == {"x": 1}


def _metric_steps(run: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


@pytest.fixture(scope="module")
def denoise_runs(tmp_path_factory):
    """``quartet denoise train`` on configs/denoise/test.yaml: 1 process, and 2 under torchrun (a runs folder per rank)."""
    if not TORCHRUN.is_file():
        pytest.skip("torchrun is not installed next to this Python")
    root = tmp_path_factory.mktemp("denoise")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["denoise", "train", "--config", str(REPO / "configs" / "denoise" / "test.yaml")]
    for nproc in (1, 2):
        _run([str(TORCHRUN), *STANDALONE, "--nproc-per-node", str(nproc), __file__, str(root / f"n{nproc}"),
              *args], env)
    return root


def test_the_denoiser_trains_under_torchrun_and_only_rank_0_writes(denoise_runs):
    one = denoise_runs / "n1" / "rank0" / "denoise" / "denoise-test"
    two = denoise_runs / "n2" / "rank0" / "denoise" / "denoise-test"
    # Rank 1 ran the same verb to the end (its trainer joined every all-reduce) and wrote nothing at all.
    assert (denoise_runs / "n2" / "rank1").is_dir()
    assert [p for p in (denoise_runs / "n2" / "rank1").rglob("*")] == []
    files = sorted(str(p.relative_to(one)) for p in one.rglob("*") if p.is_file() and p.name != "env.json")
    assert files == sorted(str(p.relative_to(two)) for p in two.rglob("*") if p.is_file() and p.name != "env.json")
    assert "checkpoints/step_4/model.safetensors" in files
    losses_one, losses_two = _metric_steps(one), _metric_steps(two)
    assert [s for s, _ in losses_one] == [s for s, _ in losses_two] == [1, 2, 3, 4]
    # The denoiser draws crops, rotations and noise from torch's global RNG, which the trainer
    # seeds per step, not per example: a rank draws for its examples what one process draws for
    # the first examples of the batch, so the 2-process run trains on differently augmented
    # patches of the same images. Its losses agree statistically: 10% is the stated tolerance.
    assert [loss for _, loss in losses_two] == pytest.approx([loss for _, loss in losses_one], rel=0.10)


@pytest.mark.xfail(strict=True, reason="augmentation is seeded per step, not per example (core/trainer.py): "
                                       "each rank draws other crops and noise than one process does")
def test_the_denoiser_under_torchrun_reproduces_one_process_exactly(denoise_runs):
    one = _metric_steps(denoise_runs / "n1" / "rank0" / "denoise" / "denoise-test")
    two = _metric_steps(denoise_runs / "n2" / "rank0" / "denoise" / "denoise-test")
    assert two == pytest.approx(one, rel=1e-5)


# --- FSDP --------------------------------------------------------------------------------------


def _tiny_model(kind: str, seed: int):
    torch.manual_seed(seed)
    if kind == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64))
    from quartet.lm.model import ModelConfig, Transformer

    return Transformer(ModelConfig(vocab_size=64, dim=32, n_layers=2, n_heads=4, max_seq_len=64))


def _lm_loss(kind: str, model, ids: torch.Tensor) -> torch.Tensor:
    if kind == "llama":
        return model(input_ids=ids, labels=ids).loss
    logits = model.head(model.hidden(ids))  # the path value heads use: methods other than forward
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 64), ids[:, 1:].reshape(-1))


def _fsdp_build(kind: str, seed: int):
    model = distributed.prepare(_tiny_model(kind, seed), "fsdp")
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def _fsdp_step(kind: str, model, opt, ids: torch.Tensor) -> float:
    loss = _lm_loss(kind, model, ids)
    loss.backward()
    distributed.average_gradients(model)  # a no-op once sharded: FSDP has reduced them
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    return distributed.average_metrics({"loss": loss.item()})["loss"]


def _fsdp_train(rank: int, world: int, port: int, out: str) -> None:
    """3 steps on a global batch of 4, gather weights and optimizer state, a 4th step; then a fresh
    model resumes from the gathered state and takes the 4th step again."""
    import copy

    from safetensors.torch import save_file

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    distributed.setup("cpu")
    ids = torch.randint(0, 64, (4, 16), generator=torch.Generator().manual_seed(1))[rank::world]
    result = {}
    for kind in ("llama", "builtin"):
        model, opt = _fsdp_build(kind, seed=rank)  # other weights per rank: rank 0's must win
        losses = [_fsdp_step(kind, model, opt, ids) for _ in range(3)]
        weights = copy.deepcopy(distributed.full_state_dict(model))
        optim = copy.deepcopy(distributed.full_optimizer_state(model, opt))
        losses.append(_fsdp_step(kind, model, opt, ids))
        fresh, fresh_opt = _fsdp_build(kind, seed=100 + rank)
        distributed.load_full_state_dict(fresh, weights)
        distributed.load_full_optimizer_state(fresh, fresh_opt, optim)
        result[kind] = {"losses": losses, "resumed": _fsdp_step(kind, fresh, fresh_opt, ids),
                        "sharded": distributed.is_sharded(model), "empty": weights == {}}
        if rank == 0:
            save_file({k: v.contiguous() for k, v in weights.items()}, str(Path(out) / f"{kind}-{world}.safetensors"))
    Path(out, f"fsdp-{world}-rank{rank}.json").write_text(json.dumps(result))
    if world > 1:
        # Leave together: a rank that tears its connections down while the other still writes its
        # files can make gloo abort the other process.
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def test_fsdp_on_cpu_matches_one_process_and_resumes_from_gathered_state(tmp_path):
    _fsdp_train(0, 1, 0, str(tmp_path))
    mp.spawn(_fsdp_train, args=(2, free_port(), str(tmp_path)), nprocs=2)
    one = json.loads((tmp_path / "fsdp-1-rank0.json").read_text())
    two = json.loads((tmp_path / "fsdp-2-rank0.json").read_text())
    rank1 = json.loads((tmp_path / "fsdp-2-rank1.json").read_text())
    for kind in ("llama", "builtin"):
        assert not one[kind]["sharded"] and two[kind]["sharded"]
        # Equal shards of a per-token mean: the same numbers up to float summation order.
        assert two[kind]["losses"] == pytest.approx(one[kind]["losses"], rel=1e-5)
        assert two[kind]["losses"][0] > two[kind]["losses"][-1]
        # The gathered weights and optimizer state are the whole state: resuming retakes step 4 exactly.
        assert two[kind]["resumed"] == pytest.approx(two[kind]["losses"][3], abs=1e-6)
        assert one[kind]["resumed"] == pytest.approx(one[kind]["losses"][3], abs=1e-6)
        assert rank1[kind]["empty"] and not two[kind]["empty"]  # full weights land on rank 0 only
        w1 = load_file(tmp_path / f"{kind}-1.safetensors")
        w2 = load_file(tmp_path / f"{kind}-2.safetensors")
        assert sorted(w1) == sorted(w2) and all(torch.allclose(w1[k], w2[k], atol=1e-5) for k in w1)


if __name__ == "__main__":  # under torchrun: quartet with a runs folder per rank (see the module docstring)
    os.environ["QUARTET_RUNS"] = str(Path(sys.argv[1]) / f"rank{os.environ.get('RANK', '0')}")
    Path(os.environ["QUARTET_RUNS"]).mkdir(parents=True, exist_ok=True)
    from quartet.cli import main

    sys.exit(main(sys.argv[2:]))
