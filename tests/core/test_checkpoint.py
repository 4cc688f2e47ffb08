"""Checkpoints: safetensors + JSON sidecar; strict loading names the keys; state loads weights-only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quartet.core.checkpoint import (
    CheckpointError,
    load_trainer_state,
    load_weights,
    read_weights_config,
    save_trainer_state,
    save_weights,
)


class PickledObject:
    """Anything that is not tensors or plain data: loading it would run arbitrary code."""


def test_round_trip_and_sidecar(tmp_path):
    torch.manual_seed(0)
    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    save_weights(source, tmp_path, {"in": 3, "out": 2})
    load_weights(target, tmp_path)
    assert torch.equal(source.weight, target.weight) and torch.equal(source.bias, target.bias)
    assert read_weights_config(tmp_path) == {"in": 3, "out": 2}
    assert (tmp_path / "model.safetensors").is_file()


def test_strict_loading_names_missing_and_unexpected_keys(tmp_path):
    save_weights(nn.Sequential(nn.Linear(3, 2)), tmp_path, {})
    with pytest.raises(CheckpointError) as err:
        load_weights(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)), tmp_path)
    assert "1.weight" in str(err.value)
    save_weights(nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)), tmp_path, {})
    with pytest.raises(CheckpointError) as err:
        load_weights(nn.Sequential(nn.Linear(3, 2)), tmp_path)
    assert "1.bias" in str(err.value)


def test_trainer_state_refuses_pickled_objects(tmp_path):
    save_trainer_state(tmp_path, {"step": 3, "rng": torch.get_rng_state()})
    assert load_trainer_state(tmp_path)["step"] == 3

    torch.save({"step": 1, "payload": PickledObject()}, tmp_path / "trainer_state.pt")
    with pytest.raises(Exception, match="(?i)weights_only|unsupported"):
        load_trainer_state(tmp_path)
