"""``quartet refusal <verb>``: thin wrappers over ``quartet.refusal.pipeline``.

Every verb runs the pipeline's stages up to and including its own on the config's run
directory, skipping finished ones, so ``quartet refusal probe`` after a kill resumes and
``quartet refusal eval`` after ``tune`` evaluates without retraining.
"""

from __future__ import annotations

import argparse
import json

from quartet.core.cliargs import add_config_args, add_verb, config_from_args

DEFAULT_CONFIG = "configs/refusal/tiny.yaml"
# verb -> (last stage it runs, help)
VERBS = {
    "world": ("world", "write the instruction data and test sets (fact world, or files) to data/"),
    "pretrain": ("pretrain", "pretrain the built-in base model on the world's corpus (skipped with --model)"),
    "probe": ("probe", "greedy answers of the base model on its training questions: D1 (right) / D0 (wrong)"),
    "build": ("build", "Vanilla / R-Tuning / R-Tuning-R / R-Tuning-U data as JSONL and LMFlow text_only"),
    "tune": ("tune", "fine-tune one model per method and seed (resumable)"),
    "eval": ("report", "evaluate every tuned model ID / OOD / unanswerable -> artifacts/results.{json,md}"),
    "pipeline": ("report", "every stage above, end to end"),
}


def _config(args: argparse.Namespace):
    from quartet.refusal.config import RefusalConfig

    overrides = list(args.overrides)
    if getattr(args, "model", None):
        overrides.append(f"base.model={args.model}")
    if getattr(args, "backend", None):
        overrides.append(f"base.generation_backend={args.backend}")
    if getattr(args, "ray", None):
        overrides.append(f"probe.ray={args.ray}")
    args.overrides = overrides
    return config_from_args(RefusalConfig, args)


def _handler(verb: str):
    def handler(args: argparse.Namespace) -> int:
        from quartet.refusal.pipeline import run_pipeline

        path = run_pipeline(_config(args), until=VERBS[verb][0])
        print(f"{verb}: done; run directory {path}")
        if verb == "probe":
            print((path / "probe" / "recovery.json").read_text())
        if verb == "build":
            counts = {p.stem: sum(1 for _ in p.open()) for p in sorted((path / "build").glob("*.jsonl"))}
            print(json.dumps(counts))
        if VERBS[verb][0] == "report":
            print((path / "artifacts" / "results.md").read_text())
        return 0

    return handler


def register(subparsers, name: str, help_text: str) -> None:
    p = subparsers.add_parser(name, help=help_text, description=__doc__.splitlines()[0])
    verbs = p.add_subparsers(dest="verb", required=True)
    for verb, (_, text) in VERBS.items():
        v = add_verb(verbs, verb, _handler(verb), text, f"quartet refusal {verb} --config {DEFAULT_CONFIG}")
        add_config_args(v, DEFAULT_CONFIG)
        v.add_argument("--model", help="base model: a built-in checkpoint dir or a Hugging Face model dir")
        if verb in ("probe", "pipeline"):
            v.add_argument("--backend", choices=["auto", "vllm"],
                           help="generation engine: auto (quartet's own or transformers) or vllm (GPU, quartet[vllm])")
            v.add_argument("--ray", metavar="ADDRESS",
                           help="probe and sample on a Ray cluster (e.g. auto, ray://head:10001); one model per worker")
