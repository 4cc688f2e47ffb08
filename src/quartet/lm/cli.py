"""``quartet lm``: train, sample, export, serve, bench."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from quartet.core.cliargs import add_config_args, add_verb, config_from_args


def _train(args: argparse.Namespace) -> int:
    from quartet.lm.run import LMRunConfig, run_train

    path = run_train(config_from_args(LMRunConfig, args))
    print(f"trained: {path}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from quartet.lm.backends import load_lm
    from quartet.lm.protocol import SamplingParams
    from quartet.lm.run import model_dir

    # A URL names an OpenAI-compatible server; anything else is a local folder.
    target = args.run if args.run.startswith(("http://", "https://")) else model_dir(Path(args.run))
    lm = load_lm(target, compile_decoding=args.compile)
    params = SamplingParams(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        stop=tuple(args.stop), stop_token_ids=tuple(args.stop_token_id), seed=args.seed,
    )
    for i, completion in enumerate(lm.generate([args.prompt], params, n=args.n)[0]):
        print(f"--- sample {i} ({completion.finish_reason}, {len(completion.token_ids)} tokens)")
        print(args.prompt + completion.text)
    return 0


def _export(args: argparse.Namespace) -> int:
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.export import export_to_hf
    from quartet.lm.run import model_dir

    out = export_to_hf(BuiltinLM.load(model_dir(args.run)), args.out)
    print(f"exported LlamaForCausalLM to {out}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    script = Path(__file__).resolve().parents[3] / "benchmarks" / "lm_generate.py"
    if not script.is_file():
        print("error: benchmarks/ is part of the source checkout, not the installed package", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(script)])


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from quartet.lm.backends import load_lm
    from quartet.lm.run import model_dir
    from quartet.lm.serve import create_openai_app

    path = model_dir(args.run)
    app = create_openai_app(load_lm(path, compile_decoding=args.compile), model_name=args.model_name or args.run.resolve().name)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}: anyone who can reach it can use the model")
    print(f"OpenAI-compatible API at http://{args.host}:{args.port}/v1")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def register(subparsers, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="<verb>")

    train = add_verb(verbs, "train", _train, "train the built-in model on a corpus (resumes a killed run)",
                     "quartet lm train --config configs/lm/tiny.yaml train.steps=500")
    add_config_args(train, "configs/lm/tiny.yaml")

    sample = add_verb(verbs, "sample", _sample, "sample continuations of a prompt",
                      "quartet lm sample --run runs/lm/tiny --prompt 'Question :' --n 3")
    sample.add_argument("--run", required=True,
                        help="run directory, model folder (quartet or HF), or an OpenAI-compatible server URL")
    sample.add_argument("--prompt", required=True)
    sample.add_argument("--n", type=int, default=1, help="continuations (sharing one prefill)")
    sample.add_argument("--max-new-tokens", type=int, default=64)
    sample.add_argument("--temperature", type=float, default=1.0, help="0 for greedy")
    sample.add_argument("--top-k", type=int, default=0)
    sample.add_argument("--top-p", type=float, default=1.0)
    sample.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    sample.add_argument("--stop-token-id", action="append", type=int, default=[],
                        help="token id that ends a sample like eos (repeatable)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--compile", action="store_true",
                        help="built-in model: torch.compile each decoding step (seconds to compile; for many tokens)")

    export = add_verb(verbs, "export", _export, "export a built-in model as a LlamaForCausalLM folder",
                      "quartet lm export --run runs/lm/tiny --to hf out/tiny-llama")
    export.add_argument("--run", type=Path, required=True)
    export.add_argument("--to", choices=["hf"], default="hf", help="target format")
    export.add_argument("out", type=Path, help="output folder")

    serve = add_verb(verbs, "serve", _serve, "serve a model over the OpenAI completions/chat API",
                     "quartet lm serve --run runs/lm/tiny --port 8001   # then: --model http://127.0.0.1:8001/v1")
    serve.add_argument("--run", type=Path, required=True, help="run directory or model folder (quartet or HF)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--model-name", default=None, help="name clients ask for (default: the run's name)")
    serve.add_argument("--compile", action="store_true",
                       help="built-in model: torch.compile each decoding step (the first request compiles)")

    add_verb(verbs, "bench", _bench, "generation speed against transformers (benchmarks/lm_generate.py)",
             "quartet lm bench")
