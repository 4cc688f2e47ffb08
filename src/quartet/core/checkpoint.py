"""Checkpoints: safetensors weights + a JSON model config; trainer state loaded with ``weights_only``.

Layout of one checkpoint directory::

    model.safetensors   weights (tied tensors stored once)
    model.json          the model's config, enough to rebuild it
    trainer_state.pt    optimizer, scheduler, RNG and data position (tensors and plain Python only)

Nothing here unpickles arbitrary objects: ``trainer_state.pt`` is read with
``torch.load(weights_only=True)`` and weights come from safetensors.

Under ``torchrun`` only global rank 0 writes. A module sharded by FSDP (``distributed.prepare``)
is saved and loaded whole: its weights are gathered to rank 0 (a collective, so every rank calls
``save_weights`` / ``load_weights``) and the file holds the same full tensors as an unsharded
model's, so a checkpoint does not depend on how many processes wrote it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from quartet.core import distributed
from quartet.core.io import atomic_write_json


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model it is loaded into."""


def save_weights(module: torch.nn.Module, directory: Path, config: dict[str, Any], name: str = "model") -> None:
    """Weights and their JSON config; rank 0 writes. Every rank must call it for an FSDP-sharded module."""
    if distributed.is_sharded(module):
        save_state_dict(distributed.full_state_dict(module), directory, config, name)
        return
    if not distributed.is_writer():
        return
    directory.mkdir(parents=True, exist_ok=True)
    save_model(module, str(directory / f"{name}.safetensors"))  # stores tied tensors once
    atomic_write_json(directory / f"{name}.json", config)


def save_state_dict(state: dict[str, torch.Tensor], directory: Path, config: dict[str, Any],
                    name: str = "model") -> None:
    """A gathered full state dict (``distributed.full_state_dict``) in the same layout; rank 0 writes."""
    if not distributed.is_writer():
        return
    directory.mkdir(parents=True, exist_ok=True)
    save_file({key: value.contiguous() for key, value in state.items()}, str(directory / f"{name}.safetensors"))
    atomic_write_json(directory / f"{name}.json", config)


def read_weights_config(directory: Path, name: str = "model") -> dict[str, Any]:
    path = Path(directory) / f"{name}.json"
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {directory} is not a quartet checkpoint")
    return json.loads(path.read_text())


def load_weights(module: torch.nn.Module, directory: Path, name: str = "model") -> None:
    """Load weights strictly: any missing or unexpected key is an error that names it.

    A sharded module takes the file's full tensors from rank 0 (collective: every rank calls it).
    """
    path = Path(directory) / f"{name}.safetensors"
    if not path.is_file():
        raise CheckpointError(f"{path} is missing")
    if distributed.is_sharded(module):
        state = load_file(str(path))
        expected = set(distributed.full_state_dict_keys(module))
        if set(state) != expected:
            raise CheckpointError(f"{path} does not match the model: missing keys {sorted(expected - set(state))}, "
                                  f"unexpected keys {sorted(set(state) - expected)}")
        distributed.load_full_state_dict(module, state)
        return
    try:
        missing, unexpected = load_model(module, str(path), strict=False)
    except RuntimeError as err:  # shape mismatch
        raise CheckpointError(f"{path}: {err}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match the model: missing keys {sorted(missing)}, unexpected keys {sorted(unexpected)}"
        )


def save_trainer_state(directory: Path, state: dict[str, Any]) -> None:
    torch.save(state, directory / "trainer_state.pt")


def load_trainer_state(directory: Path) -> dict[str, Any]:
    return torch.load(Path(directory) / "trainer_state.pt", weights_only=True, map_location="cpu")


def write_checkpoint(final_dir: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp_dir)`` and move the result to ``final_dir`` in one rename.

    A job killed mid-write leaves only a hidden ``.partial`` folder, never a
    half-written ``step_N`` that a resume would trust.
    """
    final_dir = Path(final_dir)
    tmp = final_dir.with_name(f".{final_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    if final_dir.exists():
        shutil.rmtree(final_dir)
    os.replace(tmp, final_dir)
    return final_dir
