"""``quartet prm <verb>``: thin wrappers over ``quartet.prm.pipeline`` and friends.

Every pipeline verb runs the stages up to and including its own on the config's run
directory, skipping finished ones, so ``quartet prm rollout`` after a kill resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from quartet.core.cliargs import add_config_args, add_verb, config_from_args

DEFAULT_CONFIG = "configs/prm/tiny.yaml"
STAGE_HELP = {
    "world": "generate the arithmetic problems (train/test, disjoint)",
    "sft": "fine-tune the policy until it solves some but not most test problems",
    "sample": "sample solutions to label and the best-of-N candidate pool",
    "rollout": "K Monte-Carlo completions from every step prefix (resumable)",
    "label": "hard / soft / entropy-regularized step labels, plus exports (OpenRLHF, TRL)",
    "train": "train one PRM per labelling, and the ORM; score the candidates",
    "bon": "best-of-N accuracy vs N for every method -> artifacts/bon.{json,md,png}",
    "raft": "rejection-sampling fine-tuning with each PRM -> artifacts/raft.json",
    "pipeline": "every stage above, end to end",
}


def _config(args: argparse.Namespace):
    from quartet.prm.config import PipelineConfig

    overrides = list(args.overrides)
    if getattr(args, "model", None):
        overrides.append(f"policy.model={args.model}")
    if getattr(args, "backend", None):
        overrides.append(f"policy.generation_backend={args.backend}")
    if getattr(args, "ray", None):
        overrides.append(f"rollout.ray={args.ray}")
    args.overrides = overrides
    return config_from_args(PipelineConfig, args)


def _stage_handler(stage: str):
    def handler(args: argparse.Namespace) -> int:
        from quartet.prm.pipeline import run_pipeline

        path = run_pipeline(_config(args), until="raft" if stage == "pipeline" else stage)
        print(f"{stage}: done; run directory {path}")
        for name in ("bon.md", "raft.md"):
            if stage in ("bon", "raft", "pipeline") and (path / "artifacts" / name).exists():
                print((path / "artifacts" / name).read_text())
        return 0

    return handler


def _processbench(args: argparse.Namespace) -> int:
    import dataclasses

    from quartet.prm.config import PromptConfig
    from quartet.prm.pipeline import load_scorer
    from quartet.prm.prm_model import RewardSpec
    from quartet.prm.processbench import run_processbench

    given = {"tag": args.step_tag, "good": args.good_token, "bad": args.bad_token}
    spec = dataclasses.replace(RewardSpec.load(args.prm), **{k: v for k, v in given.items() if v is not None})
    prompt = PromptConfig(**({"template": args.prompt_template} if args.prompt_template is not None else {}))
    settings = {"prm": str(args.prm), "step_tag": spec.tag, "good_token": spec.good, "bad_token": spec.bad,
                "prompt_template": prompt.template}
    result = run_processbench(load_scorer(args.prm, spec), args.data, args.out, args.subsets, args.threshold,
                              args.limit, prompt, settings)
    print(json.dumps(result, indent=2))
    return 0


def register(subparsers, name: str, help_text: str) -> None:
    p = subparsers.add_parser(name, help=help_text)
    verbs = p.add_subparsers(dest="verb", required=True)
    for stage, text in STAGE_HELP.items():
        v = add_verb(verbs, stage, _stage_handler(stage), text, f"quartet prm {stage} --config {DEFAULT_CONFIG}")
        add_config_args(v, DEFAULT_CONFIG)
        v.add_argument("--model", help="policy: a built-in checkpoint dir or a Hugging Face model dir")
        if stage not in ("world", "sft"):  # every verb that may still have to sample or roll out
            v.add_argument("--backend", choices=["auto", "vllm"],
                           help="generation engine: auto (quartet's own or transformers) or vllm (GPU, quartet[vllm])")
            v.add_argument("--ray", metavar="ADDRESS",
                           help="sample and roll out on a Ray cluster (e.g. auto, ray://head:10001); one policy per worker")
    v = add_verb(verbs, "processbench", _processbench, "earliest-error F1 of a PRM on ProcessBench",
                 "quartet prm processbench --prm runs/prm/prm-tiny/prm/er2/model --data ../shared/data/math/processbench "
                 "--out runs/prm/prm-tiny/artifacts/processbench.json")
    v.add_argument("--prm", type=Path, required=True,
                   help="PRM folder: a built-in or Hugging Face model (+ value_head.safetensors for the value-head "
                        "variant); its prm.json, when there, names its step tag and reward tokens")
    v.add_argument("--data", type=Path, required=True, help="folder with <subset>.json files")
    v.add_argument("--subsets", nargs="+", default=["gsm8k", "math", "olympiadbench", "omnimath"],
                   help="subset files to read (default: all four)")
    v.add_argument("--threshold", type=float, default=0.5, help="P(good) below this marks a wrong step")
    v.add_argument("--limit", type=int, default=None, help="only the first N items of each subset (a quick look)")
    v.add_argument("--out", type=Path, default=Path("processbench.json"), help="where to write the JSON")
    v.add_argument("--step-tag", help="text after every step, one token of the PRM's tokenizer (default: the "
                                      "PRM's prm.json, else <step>; a Math-Shepherd-style PRM: ки)")
    v.add_argument("--good-token", help="reward token of a right step, one token (default: prm.json, else +); a "
                                        "vocabulary spelling such as Ġ+ picks that exact entry")
    v.add_argument("--bad-token", help="reward token of a wrong step, one token (default: prm.json, else -)")
    v.add_argument("--prompt-template", help="what precedes the steps; {question} is the problem, {instruction} "
                                             "the boxed-answer instruction (default: the pipeline's prompt)")
