"""The paper's claim on the embedded scale: does R-Tuning's AP beat Vanilla's, ID and OOD?

Runs (or resumes: a finished run is only re-read) ``configs/refusal/tiny.yaml`` and prints, per
answerable test set, the AP of R-Tuning, R-Tuning-R and R-Tuning-U with their ratio against
Vanilla tuning (the baseline, trained and evaluated in the same run), and against the vanilla
model ranked by the entropy of K samples (the paper's "uncertainty-based testing"). Mean over
the config's tuning seeds. A ratio > 1 means the paper's effect appears. The pipeline's wall
time is reported against the issue's 600 s budget (only meaningful for a fresh run).

    python benchmarks/refusal_ap.py [--config configs/refusal/tiny.yaml] [key.sub=value ...]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from quartet.core.config import load_config
from quartet.refusal.config import RefusalConfig
from quartet.refusal.pipeline import run_dir_of, run_pipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/refusal/tiny.yaml")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(RefusalConfig, args.config, args.overrides)
    fresh = not (run_dir_of(cfg) / "stages").exists()
    start = time.perf_counter()
    path = run_pipeline(cfg)
    seconds = time.perf_counter() - start
    results = json.loads((path / "artifacts" / "results.json").read_text())
    methods = results["methods"]
    sets = {}
    for name, role in results["roles"].items():
        if role == "unanswerable" or "vanilla" not in methods:
            continue
        base = methods["vanilla"][name]["mean"].get("ap")
        ent = methods.get("vanilla_entropy", {}).get(name, {}).get("mean", {}).get("ap")
        row = {"role": role, "ap_vanilla": base, "ap_vanilla_entropy": ent}
        for m in ("rtuning", "rtuning_r", "rtuning_u"):
            ap_m = methods.get(m, {}).get(name, {}).get("mean", {}).get("ap")
            row[f"ap_{m}"] = ap_m
            row[f"ratio_{m}_vs_vanilla"] = ap_m / base if ap_m is not None and base else None
            row[f"ratio_{m}_vs_entropy"] = ap_m / ent if ap_m is not None and ent else None
        sets[name] = row
    print(json.dumps({
        "benchmark": "refusal_ap", "config": args.config, "run_dir": str(path), "seeds": results["seeds"],
        "sets": sets, "pipeline_seconds": seconds, "budget_seconds": 600,
        "ratio_seconds_vs_budget": seconds / 600, "fresh_run": fresh,
    }, indent=2))


if __name__ == "__main__":
    main()
