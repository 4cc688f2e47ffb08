import json
import shutil
from dataclasses import replace

import pytest
import torch

from quartet.core.checkpoint import CheckpointError, load_weights
from quartet.core.config import load_config
from quartet.denoise.config import DenoiseConfig
from quartet.denoise.network import build_denoiser
from quartet.denoise.train import build_train_dataset, checkpoint_dir, collate, load_denoiser, run_train

CONFIG = "configs/denoise/test.yaml"


def _cfg(**train):
    cfg = load_config(DenoiseConfig, CONFIG)
    return replace(cfg, train=replace(cfg.train, **train))


def test_patches_are_replayed_from_the_global_rng():
    cfg = _cfg()
    ds = build_train_dataset(cfg.data, 3)
    torch.manual_seed(5)
    a = collate([ds[0], ds[1]])
    torch.manual_seed(5)
    b = collate([ds[0], ds[1]])
    assert a["noisy"].shape == (2, 3, 32, 32)
    assert torch.equal(a["noisy"], b["noisy"]) and torch.equal(a["clean"], b["clean"])
    assert not torch.equal(a["noisy"], a["clean"])


def test_training_lowers_loss_and_changes_every_parameter(tmp_path):
    cfg = _cfg(steps=30, lr=3e-3, checkpoint_every=0)
    torch.manual_seed(cfg.train.seed)
    initial = build_denoiser(cfg.model).state_dict()
    run = run_train(cfg, tmp_path / "run")
    model, _ = load_denoiser(run)
    for name, value in model.state_dict().items():
        assert not torch.equal(value, initial[name]), f"{name} did not change"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5


def test_exact_resume(tmp_path):
    # an uninterrupted 4-step run vs the same run stopped after step 2 and resumed -> identical weights
    cfg = _cfg(steps=4, checkpoint_every=2, keep_checkpoints=2)
    full = run_train(cfg, tmp_path / "full")
    assert sorted(p.name for p in (full / "checkpoints").iterdir()) == ["step_2", "step_4"]
    shutil.copytree(full, tmp_path / "killed")
    shutil.rmtree(tmp_path / "killed" / "checkpoints" / "step_4")  # as if killed during step 3
    resumed = run_train(cfg, tmp_path / "killed")
    assert checkpoint_dir(resumed).name == "step_4"
    a, b = load_denoiser(full)[0], load_denoiser(resumed)[0]
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    # the step-2 state really differs from the end state (the resume did train)
    c = load_denoiser(tmp_path / "killed" / "checkpoints" / "step_2")[0]
    assert not torch.equal(c.head.weight, a.head.weight)
    # the strict loader refuses a checkpoint of another architecture
    wrong = build_denoiser(replace(cfg.model, attention="ca"))
    with pytest.raises(CheckpointError, match="unexpected keys"):
        load_weights(wrong, checkpoint_dir(full))


def test_training_crops_are_flipped_and_rotated_alike():
    # patch = whole image, so a training sample can only differ from the image by a flip/rotation;
    # over 200 draws all 8 dihedral forms appear, and noisy and clean always get the same one
    from quartet.denoise.train import PatchDataset

    clean = torch.arange(3 * 8 * 8, dtype=torch.float32).reshape(3, 8, 8)  # no symmetry at all
    noisy = clean + 1000
    forms = [clean.rot90(k, dims=(1, 2)) for k in range(4)]
    forms += [f.flip(-1) for f in forms]
    ds = PatchDataset([(noisy, clean)], patch=8, epoch_size=200)
    torch.manual_seed(0)
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        index = [j for j, f in enumerate(forms) if torch.equal(item["clean"], f)]
        assert len(index) == 1  # a dihedral transform of the image, never anything else
        assert torch.equal(item["noisy"], item["clean"] + 1000)  # the pair stays aligned
        seen.add(index[0])
    assert seen == set(range(8))
