"""The ``quartet`` command: ``quartet <system> <verb> [options]``.

Each system keeps its verbs in its own ``cli.py`` with a ``register(subparsers)``
function; they are imported only when that system is asked for, so ``quartet lm``
does not pay for loading the image or web stacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from quartet.core.logging import setup_logging

# system name -> (one-line help, module that defines ``register``)
SYSTEMS: dict[str, tuple[str, str]] = {
    "lm": ("the shared language model: train, sample, export, serve, bench", "quartet.lm.cli"),
    "prm": ("entropy-regularized process reward models (ER-PRM)", "quartet.prm.cli"),
    "refusal": ("refusal-aware instruction tuning (R-Tuning)", "quartet.refusal.cli"),
    "infopattern": ("stance detection, red teaming, claim propagation", "quartet.infopattern.cli"),
    "denoise": ("sub-band pyramid attention image denoising", "quartet.denoise.cli"),
    "serve": ("the web app over finished runs", "quartet.web.cli"),
    "demo": ("run every system end to end on the embedded scale and write the report", "quartet.report.cli"),
}

EPILOG = """examples:
  quartet lm train --config configs/lm/tiny.yaml
  quartet prm pipeline --config configs/prm/tiny.yaml
  quartet demo
"""


def build_parser(system: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quartet", description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="system", metavar="<system>", required=True)
    for name, (help_text, module_name) in SYSTEMS.items():
        if name != system:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            sub.add_parser(name, help=f"{help_text} (not built yet)")
            continue
        module.register(sub, name, help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    system = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(system if system in SYSTEMS else None)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.error(f"`quartet {args.system}` is not built yet")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Under torchrun every rank runs this verb: join the group before the first stage, so
        # that each stage's end is a barrier (RunDir.mark_stage_done) and the files rank 0
        # wrote exist before any rank reads them.
        from quartet.core import distributed

        distributed.setup()
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; finished work is kept and a rerun resumes", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as err:
        # Bad input: a clear message, no stack trace. Library errors carry file/line/field.
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
