"""Every ``quartet denoise`` verb, end to end on configs/denoise/test.yaml."""

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from quartet.cli import main
from quartet.denoise.data import load_image, to_uint8
from quartet.denoise.train import load_denoiser

ROOT = Path(__file__).resolve().parents[2]
TEST_CFG = str(ROOT / "configs/denoise/test.yaml")
VERBS = ["train", "eval", "ablation", "run", "export", "bench"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["denoise", "train", "--config", TEST_CFG, "--run-dir", str(run)]) == 0
    return run


def test_every_verb_has_help_with_an_example(capsys):
    for verb in VERBS:
        with pytest.raises(SystemExit) as done:
            main(["denoise", verb, "--help"])
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert "example:" in out and f"quartet denoise {verb}" in out, verb


def test_train_writes_a_loadable_checkpoint(trained):
    assert (trained / "checkpoints" / "step_4" / "model.safetensors").is_file()
    assert (trained / "config.yaml").is_file()
    losses = [json.loads(line)["loss"] for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 4 and all(np.isfinite(losses))


def test_eval_scores_model_and_baselines(trained, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["denoise", "eval", "--config", TEST_CFG, "--model", str(trained), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| model-spa |" in printed and "| noisy |" in printed
    results = json.loads((out / "results.json").read_text())["results"]["synthetic"]
    assert set(results) == {"noisy", "wavelet", "model-spa"}
    assert results["noisy"]["images"] == 2  # eval.synthetic_count
    rows = (out / "per_image.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 2  # header + 3 methods x 2 images


def test_run_denoises_a_photo_of_odd_size_and_grey(trained, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name, shape in (("rgb.png", (45, 70, 3)), ("grey.png", (33, 41))):
        src = tmp_path / name
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(src)
        for tiling, extra in (("exact", ["--tile", "48"]), ("blend", ["--tile", "32", "--overlap", "8"])):
            dst = tmp_path / f"out_{tiling}_{name}"
            assert main(["denoise", "run", str(src), "-o", str(dst), "--model", str(trained),
                         "--tiling", tiling, *extra]) == 0
            info = json.loads(capsys.readouterr().out)
            assert (info["height"], info["width"]) == shape[:2] and info["tiling"] == tiling
            with Image.open(dst) as im:
                assert (im.height, im.width) == shape[:2]
                assert im.mode == ("RGB" if len(shape) == 3 else "L")
    # exact tiling (several 48-pixel tiles here) writes what the model gives on the whole image
    model, _ = load_denoiser(trained)
    image = load_image(tmp_path / "rgb.png")
    with torch.inference_mode():
        whole = model(torch.from_numpy(image.transpose(2, 0, 1).copy())[None])[0].numpy().transpose(1, 2, 0)
    written = np.asarray(Image.open(tmp_path / "out_exact_rgb.png"))
    np.testing.assert_array_equal(written, to_uint8(whole.clip(0, 1)))


def test_run_without_model_uses_the_most_recent_spa_model(trained, tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    monkeypatch.setenv("QUARTET_RUNS", str(runs))
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(src)
    assert main(["denoise", "run", str(src), "-o", str(dst)]) == 2  # the literal command, no runs yet
    assert "no trained spa denoiser" in capsys.readouterr().err and not dst.exists()
    for age, name in ((300, "old-spa"), (200, "new-spa"), (100, "newest-ca")):
        shutil.copytree(trained, runs / "denoise" / name)
        for weights in (runs / "denoise" / name).glob("checkpoints/step_*/model.safetensors"):
            os.utime(weights, (time.time() - age, time.time() - age))
    ca_json = next((runs / "denoise" / "newest-ca").glob("checkpoints/step_*/model.json"))
    ca_json.write_text(ca_json.read_text().replace('"spa"', '"ca"'))
    assert main(["denoise", "run", str(src), "-o", str(dst)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["model"] == str(runs / "denoise" / "new-spa")
    assert "new-spa" in captured.err and dst.is_file()


def test_run_rejects_a_file_that_is_not_an_image(trained, tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    assert main(["denoise", "run", str(bad), "-o", str(tmp_path / "x.png"), "--model", str(trained)]) == 2
    assert "not an image" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_unknown_config_key_is_an_error(capsys, tmp_path):
    assert main(["denoise", "train", "--config", TEST_CFG, "model.depth=3", "--run-dir", str(tmp_path / "r")]) == 2
    assert "depth" in capsys.readouterr().err


def test_export_matches_pytorch_in_onnxruntime(trained, tmp_path, capsys):
    onnx_path = tmp_path / "model.onnx"
    assert main(["denoise", "export", "--model", str(trained), "-o", str(onnx_path), "--size", "32",
                 "--check-height", "37", "--check-width", "50"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert onnx_path.is_file() and result["max_abs_diff_vs_torch"] < 1e-4


def test_ablation_writes_tables_and_figures_and_resumes(tmp_path, capsys):
    run = tmp_path / "ablation"
    assert main(["denoise", "ablation", "--config", TEST_CFG, "--run-dir", str(run)]) == 0
    assert "| spa1 |" in capsys.readouterr().out
    summary = json.loads((run / "artifacts" / "results.json").read_text())
    assert summary["methods"] == ["noisy", "wavelet", "none", "ca", "spa1"]
    assert set(summary["results"]["synthetic"]) == set(summary["methods"])
    assert summary["parameters"]["spa1"] > summary["parameters"]["ca"] > summary["parameters"]["none"]
    for name in ("results.md", "per_image.csv", "ablation.png", "crops.png"):
        assert (run / "artifacts" / name).stat().st_size > 0, name
    # three variants trained, each to the same budget
    for variant in ("none", "ca", "spa1"):
        assert (run / "models" / f"{variant}-s0" / "checkpoints" / "step_4").is_dir()
    # a rerun recomputes nothing
    before = (run / "artifacts" / "per_image.jsonl").stat().st_mtime_ns
    assert main(["denoise", "ablation", "--config", TEST_CFG, "--run-dir", str(run)]) == 0
    assert (run / "artifacts" / "per_image.jsonl").stat().st_mtime_ns == before


def test_bench_reports_speed_per_attention_and_memory(capsys):
    assert main(["denoise", "bench", "--config", TEST_CFG, "--kinds", "none", "ca", "spa2",
                 "--height", "32", "--width", "48", "--repeats", "1", "--memory", "64", "80", "--tile", "32", "--overlap", "8"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["attention"]) == {"none", "ca", "spa2"}
    assert all(r["mp_per_s"] > 0 for r in result["attention"].values())
    assert result["tiled_memory"]["peak_rss_mib"] > 0
