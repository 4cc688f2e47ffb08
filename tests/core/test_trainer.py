"""The shared trainer: it learns, touches every parameter, and resumes bit-identically."""

from __future__ import annotations

import torch
from torch import nn

from quartet.core.runs import open_run
from quartet.core.trainer import TrainConfig, Trainer, lr_lambda


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 16), nn.LayerNorm(16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 1))

    def forward(self, x):  # (B, 4) -> (B,)
        return self.body(x).squeeze(-1)


def mse(module, batch):
    loss = ((module(batch["x"]) - batch["y"]) ** 2).mean()
    return loss, {}


def dataset(n=64):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, 4, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    return [{"x": x[i], "y": y[i]} for i in range(n)]


def collate(items):
    return {"x": torch.stack([i["x"] for i in items]), "y": torch.stack([i["y"] for i in items])}


def make_trainer(path, steps, checkpoint_every=0, seed=0):
    torch.manual_seed(seed)
    cfg = TrainConfig(steps=steps, batch_size=8, grad_accum=2, lr=1e-2, warmup_steps=3,
                      checkpoint_every=checkpoint_every, log_every=1, seed=seed)
    return Trainer(Regressor(), mse, dataset(), collate, cfg, open_run(path, cfg), {"kind": "regressor"})


def test_training_lowers_loss_and_changes_every_parameter(tmp_path):
    trainer = make_trainer(tmp_path / "a", steps=40)
    before = {n: p.detach().clone() for n, p in trainer.module.named_parameters()}
    trainer.fit()
    losses = [r["loss"] for r in trainer.run.read_metrics() if "loss" in r]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    unchanged = [n for n, p in trainer.module.named_parameters() if torch.equal(p, before[n])]
    assert unchanged == []


def test_resume_is_bit_identical(tmp_path):
    full = make_trainer(tmp_path / "full", steps=12, checkpoint_every=4)
    full.fit()

    first = make_trainer(tmp_path / "cut", steps=12, checkpoint_every=4)
    for _ in range(6):  # dies after step 6; the last checkpoint is step 4
        first.train_step()
        if first.step % 4 == 0:
            first.save_checkpoint()
    resumed = make_trainer(tmp_path / "cut", steps=12, checkpoint_every=4, seed=0)
    torch.manual_seed(123)  # global RNG state must not matter
    assert resumed.resume() and resumed.step == 4
    resumed.fit()
    for (name, a), (_, b) in zip(full.module.named_parameters(), resumed.module.named_parameters(), strict=True):
        assert torch.equal(a, b), name
    full_state = full.optimizer.state_dict()["state"]
    resumed_state = resumed.optimizer.state_dict()["state"]
    assert all(torch.equal(full_state[k]["exp_avg"], resumed_state[k]["exp_avg"]) for k in full_state)


def test_checkpoints_are_pruned(tmp_path):
    trainer = make_trainer(tmp_path / "p", steps=12, checkpoint_every=2)
    trainer.fit()
    assert sorted(p.name for p in trainer.run.checkpoints.iterdir()) == ["step_10", "step_12"]


def test_schedule_shape():
    f = lr_lambda(TrainConfig(steps=110, warmup_steps=10, min_lr_ratio=0.0))
    assert round(f(4), 3) == 0.5 and f(10) == 1.0 and round(f(60), 3) == 0.5 and round(f(110), 6) == 0.0
    g = lr_lambda(TrainConfig(warmup_steps=0, schedule="step", step_size=5, step_gamma=0.5))
    assert [g(0), g(5), g(10)] == [1.0, 0.5, 0.25]


def _linear_trainer(path, **overrides):
    """A model without dropout, so two trainers see the same computation."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    cfg = TrainConfig(**{"steps": 6, "lr": 1e-2, "warmup_steps": 0, "log_every": 1, "seed": 0, **overrides})

    def loss_fn(m, batch):
        return ((m(batch["x"]).squeeze(-1) - batch["y"]) ** 2).mean(), {}

    def eval_fn(m):
        batch = collate(dataset(16))
        return {"mse": float(loss_fn(m, batch)[0])}

    return Trainer(module, loss_fn, dataset(), collate, cfg, open_run(path, cfg), {"kind": "mlp"}, eval_fn=eval_fn)


def test_gradient_accumulation_equals_the_larger_batch(tmp_path):
    """Two micro-batches of 8 are the same optimizer step as one batch of their 16 examples."""
    big = _linear_trainer(tmp_path / "big", batch_size=16, grad_accum=1, grad_clip=0.0)
    accumulated = _linear_trainer(tmp_path / "acc", batch_size=8, grad_accum=2, grad_clip=0.0)
    big.fit()
    accumulated.fit()
    for (name, a), (_, b) in zip(big.module.named_parameters(), accumulated.module.named_parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
    small = _linear_trainer(tmp_path / "small", batch_size=8, grad_accum=1, grad_clip=0.0)
    small.fit()  # and it is not simply the smaller batch
    assert not torch.allclose(small.module[0].weight, big.module[0].weight, atol=1e-4)


def test_clipping_bounds_the_update_and_logs_the_norm_before_it(tmp_path):
    trainer = _linear_trainer(tmp_path / "clip", batch_size=16, grad_clip=1e-3)
    metrics = trainer.train_step()
    assert metrics["grad_norm"] > 1e-3  # the norm as computed, before clipping
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in trainer.module.parameters()))
    assert float(norm) <= 1e-3 * (1 + 1e-4)  # the gradients the optimizer used were clipped


def test_periodic_evaluation_is_logged(tmp_path):
    trainer = _linear_trainer(tmp_path / "eval", batch_size=16, eval_every=2, log_every=100)
    trainer.fit()
    evals = [r["step"] for r in trainer.run.read_metrics() if "eval_mse" in r]
    assert evals == [2, 4, 6]  # every 2 steps, and the final evaluation at the end
