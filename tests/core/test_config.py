"""Configs: YAML round trip, unknown keys and wrong types rejected by name, CLI overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from quartet.core.config import ConfigError, apply_overrides, load_config, save_config


@dataclass(frozen=True)
class Optim:
    lr: float = 1e-3  # learning rate
    kind: Literal["adamw", "adam"] = "adamw"  # optimizer


@dataclass(frozen=True)
class Job:
    name: str = "run"  # run name
    steps: int = 10  # optimizer steps
    layers: list[int] = field(default_factory=lambda: [1, 2])  # sizes
    optim: Optim = field(default_factory=Optim)  # nested section


def test_round_trip(tmp_path):
    cfg = Job(name="a", steps=3, layers=[4], optim=Optim(lr=0.5, kind="adam"))
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(Job, tmp_path / "c.yaml") == cfg


def test_unknown_key_is_named(tmp_path):
    (tmp_path / "c.yaml").write_text("name: a\noptim: {lr: 0.1, momentum: 0.9}\n")
    with pytest.raises(ConfigError, match="momentum"):
        load_config(Job, tmp_path / "c.yaml")


@pytest.mark.parametrize(
    "text, key",
    [("steps: ten\n", "steps"), ("optim: {kind: sgd}\n", "optim.kind"), ("layers: 3\n", "layers"),
     ("optim: {lr: fast}\n", "optim.lr")],
)
def test_wrong_type_is_named(tmp_path, text, key):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(Job, tmp_path / "c.yaml")


def test_overrides_are_validated():
    cfg = apply_overrides(Job(), ["optim.lr=3e-4", "steps=7", "layers=[8, 9]"])
    assert (cfg.optim.lr, cfg.steps, cfg.layers) == (3e-4, 7, [8, 9])
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(Job(), ["optim.beta=1"])
    with pytest.raises(ConfigError, match="steps"):
        apply_overrides(Job(), ["steps=many"])
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides(Job(), ["steps"])


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Job, tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(Job, tmp_path / "bad.yaml")
