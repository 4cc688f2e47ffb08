"""``quartet denoise <verb>``: thin wrappers over the library (train, eval, ablation, run, export, bench).

Every verb prints what it wrote; errors in the input (a file that is not an image, a
config key that does not exist) end with a message and exit status 2 (see quartet.cli).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from quartet.core.cliargs import add_config_args, add_verb, config_from_args

DEFAULT_CONFIG = "configs/denoise/tiny.yaml"


def _config(args: argparse.Namespace):
    from quartet.denoise.config import DenoiseConfig

    return config_from_args(DenoiseConfig, args)


def _train(args: argparse.Namespace) -> int:
    from quartet.denoise.train import run_train

    path = run_train(_config(args), args.run_dir)
    print(f"trained; run directory {path}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from quartet.denoise.evaluate import run_eval

    out = run_eval(_config(args), args.model, args.out)
    print((out / "results.md").read_text())
    print(f"per-image scores: {out / 'per_image.csv'}; summary: {out / 'results.json'}")
    return 0


def _ablation(args: argparse.Namespace) -> int:
    from quartet.denoise.ablation import run_ablation

    path = run_ablation(_config(args), args.run_dir)
    print((path / "artifacts" / "results.md").read_text())
    print(f"run directory {path}; figures: artifacts/ablation.png, artifacts/crops.png")
    return 0


def _run(args: argparse.Namespace) -> int:
    import sys

    from quartet.core.runs import runs_root
    from quartet.denoise.photo import denoise_file
    from quartet.denoise.train import latest_model

    model = args.model or latest_model(runs_root())
    if args.model is None:
        print(f"using the most recent SPA model: {model}", file=sys.stderr)
    info = denoise_file(model, args.input, args.output, args.tile, args.overlap, args.ensemble,
                        exact=args.tiling == "exact")
    print(json.dumps(info))
    return 0


def _export(args: argparse.Namespace) -> int:
    from quartet.denoise.export import check_onnx, export_onnx
    from quartet.denoise.train import load_denoiser

    model, cfg = load_denoiser(args.model)
    path = export_onnx(model, args.output, cfg["channels"], args.size)
    result = {"onnx": str(path)}
    if not args.no_check:
        diff = check_onnx(model, path, args.check_height, args.check_width, cfg["channels"])
        result["max_abs_diff_vs_torch"] = diff
        if diff > args.tolerance:
            print(json.dumps(result))
            print(f"error: ONNX output differs from PyTorch by {diff:.3g} > {args.tolerance}")
            return 1
    print(json.dumps(result))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from quartet.denoise.network import DenoiserConfig
    from quartet.denoise.speed import attention_speeds, model_speed, tiled_peak_memory
    from quartet.denoise.train import load_denoiser

    result: dict = {"height": args.height, "width": args.width}
    if args.model:
        model, cfg = load_denoiser(args.model)
        result["model"] = {**model_speed(model, args.height, args.width, args.repeats, cfg["channels"]), **cfg}
        base = DenoiserConfig(**cfg)
    else:
        base = replace(_config(args).model)
        result["attention"] = attention_speeds(base, tuple(args.kinds), args.height, args.width, args.repeats)
    if args.memory:
        h, w = args.memory
        result["tiled_memory"] = {"height": h, "width": w, **tiled_peak_memory(base, h, w, args.tile, args.overlap)}
    print(json.dumps(result, indent=2))
    return 0


def register(subparsers, name: str, help_text: str) -> None:
    p = subparsers.add_parser(name, help=help_text)
    verbs = p.add_subparsers(dest="verb", required=True)

    v = add_verb(verbs, "train", _train, "train one denoiser (resumes a killed run)",
                 f"quartet denoise train --config {DEFAULT_CONFIG} model.attention=ca name=ca-run")
    add_config_args(v, DEFAULT_CONFIG)
    v.add_argument("--run-dir", type=Path, help="run directory (default: runs/denoise/<name>)")

    v = add_verb(verbs, "eval", _eval, "PSNR/SSIM of a trained model and the baselines on the config's sets",
                 f"quartet denoise eval --model runs/denoise/denoise-tiny --config {DEFAULT_CONFIG}")
    add_config_args(v, DEFAULT_CONFIG)
    v.add_argument("--model", type=Path, required=True, help="run directory or checkpoint folder")
    v.add_argument("--out", type=Path, help="output folder (default: <model>/artifacts/eval)")

    v = add_verb(verbs, "ablation", _ablation,
                 "none vs CA vs SPA (levels, per-band) at equal budget, with baselines -> results table and figures",
                 f"quartet denoise ablation --config {DEFAULT_CONFIG}")
    add_config_args(v, DEFAULT_CONFIG)
    v.add_argument("--run-dir", type=Path, help="run directory (default: runs/denoise/<name>)")

    v = add_verb(verbs, "run", _run, "denoise one photo of any size (tiled, optional x8 self-ensemble)",
                 "quartet denoise run photo.jpg -o photo_denoised.png")
    v.add_argument("input", type=Path, help="image file (PNG/JPEG/TIFF, 8 or 16 bit, grey or RGB)")
    v.add_argument("-o", "--output", type=Path, required=True, help="where to write the 8-bit result")
    v.add_argument("--model", type=Path,
                   help="run directory or checkpoint folder (default: the most recent SPA model under "
                        "$QUARTET_RUNS, else runs/)")
    v.add_argument("--tile", type=int, default=512, help="tile side in pixels")
    v.add_argument("--tiling", choices=["exact", "blend"], default="exact",
                   help="exact: whole-image attention statistics, equals untiled inference (several passes); "
                        "blend: one pass, each tile pools its own statistics, overlaps blended")
    v.add_argument("--overlap", type=int, default=32, help="--tiling blend: tile overlap in pixels (blended linearly)")
    v.add_argument("--ensemble", action="store_true", help="average the 8 flips/rotations (8x slower)")

    v = add_verb(verbs, "export", _export, "export a model to ONNX and check it with onnxruntime",
                 "quartet denoise export --model runs/denoise/denoise-tiny/models/spa3-s0 -o spa3.onnx")
    v.add_argument("--model", type=Path, required=True, help="run directory or checkpoint folder")
    v.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    v.add_argument("--size", type=int, default=64, help="side of the example input used for tracing")
    v.add_argument("--check-height", type=int, default=75, help="height of the random check input")
    v.add_argument("--check-width", type=int, default=101, help="width of the random check input")
    v.add_argument("--tolerance", type=float, default=1e-4, help="max |onnx - torch| accepted")
    v.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")

    v = add_verb(verbs, "bench", _bench,
                 "megapixels/s of none/CA/SPA networks of equal width (or of one model), and tiled peak memory",
                 f"quartet denoise bench --config {DEFAULT_CONFIG} --memory 3000 4000")
    add_config_args(v, DEFAULT_CONFIG)
    v.add_argument("--model", type=Path, help="time this trained model instead of fresh none/CA/SPA networks")
    v.add_argument("--kinds", nargs="+", default=["none", "ca", "spa1", "spa2", "spa3", "spa_bands3"],
                   help="attention variants to time")
    v.add_argument("--height", type=int, default=512, help="image height")
    v.add_argument("--width", type=int, default=512, help="image width")
    v.add_argument("--repeats", type=int, default=3, help="timed runs (the best is reported)")
    v.add_argument("--memory", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"),
                   help="also measure peak memory of tiled inference on an image this size")
    v.add_argument("--tile", type=int, default=256, help="tile side for --memory")
    v.add_argument("--overlap", type=int, default=32, help="tile overlap for --memory")
