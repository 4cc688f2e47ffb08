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
