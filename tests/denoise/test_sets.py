"""Training sources that mix real pairs with synthetic noise, and the evaluation sets of the configs."""

import logging
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from quartet.core.config import load_config
from quartet.denoise.config import DataConfig, DenoiseConfig, EvalConfig, EvalSet
from quartet.denoise.data import find_pairs
from quartet.denoise.evaluate import load_eval_sets
from quartet.denoise.train import build_train_dataset

ROOT = Path(__file__).resolve().parents[2]


def _scene(name: str) -> str:
    return re.sub(r"_+\d+$", "", name)


def test_tiny_and_small_use_the_same_scene_disjoint_polyu_split():
    tiny = load_config(DenoiseConfig, ROOT / "configs/denoise/tiny.yaml")
    small = load_config(DenoiseConfig, ROOT / "configs/denoise/small.yaml")
    train, test = tiny.data.train_names, tiny.eval.sets[0].names
    assert (len(train), len(test)) == (70, 30)
    assert not {_scene(n) for n in train} & {_scene(n) for n in test}
    assert small.data.train_names == train and small.eval.sets[0].names == test


def test_split_names_exist_in_the_data(denoise_data):
    tiny = load_config(DenoiseConfig, ROOT / "configs/denoise/tiny.yaml")
    all_names = {p.name for p in find_pairs(denoise_data / "PolyU100")}
    assert set(tiny.data.train_names) | set(tiny.eval.sets[0].names) == all_names


def test_mixed_source_has_real_pairs_then_clean_images(denoise_data):
    names = ("Canon5D2_5_160_3200_chair_11", "Sony_4_200_3200_door_10")
    cfg = DataConfig(data_root=str(denoise_data), train_source="mixed", pairs_dir="PolyU100", train_names=names,
                     clean_dirs=("Kodak24",), max_images=2, patch=32, epoch_size=8)
    ds = build_train_dataset(cfg, 3)
    assert [n is not None for n, _ in ds.sources] == [True, True, False, False]
    assert ds[0]["noisy"].shape == (3, 32, 32) and ds[2]["noisy"].shape == (3, 32, 32)
    with pytest.raises(ValueError, match="needs data.pairs_dir"):
        build_train_dataset(replace(cfg, pairs_dir=""), 3)


def _eval_cfg(root: Path, *sets: EvalSet) -> DenoiseConfig:
    return DenoiseConfig(data=DataConfig(data_root=str(root)), eval=EvalConfig(sets=sets, synthetic_count=0))


def test_synthetic_noise_sets_are_fixed_and_grey_is_repeated(denoise_data):
    camera = EvalSet(name="set12", path="Set12", noise="camera", crop=64, limit=2)
    awgn = EvalSet(name="kodak", path="Kodak24", noise="gaussian", sigma=25.0, crop=128, limit=2)
    a = load_eval_sets(_eval_cfg(denoise_data, camera, awgn))
    b = load_eval_sets(_eval_cfg(denoise_data, camera, awgn))
    s = a["set12"][0]
    assert s.name == "01" and s.clean.shape == (64, 64, 3)
    assert np.array_equal(s.clean[..., 0], s.clean[..., 2])  # grey repeated to RGB
    assert np.array_equal(s.noisy, b["set12"][0].noisy)  # the same noise every time
    assert not np.array_equal(s.noisy, s.clean)
    residual = a["kodak"][0].noisy - a["kodak"][0].clean
    assert residual.std() == pytest.approx(25 / 255, rel=0.05)


def test_real_pair_set_crop_names_and_limit(denoise_data):
    spec = EvalSet(name="sidd", path="SIDD_val_subset", crop=64, names=("val_3_0", "val_1_0"))
    sets = load_eval_sets(_eval_cfg(denoise_data, spec, replace(spec, name="two", names=(), limit=2)))
    assert [s.name for s in sets["sidd"]] == ["val_3_0", "val_1_0"]
    assert sets["sidd"][0].noisy.shape == (64, 64, 3) and len(sets["two"]) == 2


def test_missing_eval_folder_is_skipped_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        sets = load_eval_sets(_eval_cfg(tmp_path, EvalSet(name="polyu", path="PolyU100")))
    assert sets == {} and "eval set polyu skipped" in caplog.text
