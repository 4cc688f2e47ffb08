"""``quartet serve``: the web app over finished runs (binds to 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import argparse
from pathlib import Path


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from quartet.web.app import create_app

    if args.runs is not None and not args.runs.is_dir():
        raise FileNotFoundError(f"--runs {args.runs}: no such folder")
    for flag in ("prm", "refusal", "denoise"):
        folder = getattr(args, f"{flag}_run")
        if folder is not None and not folder.is_dir():
            raise FileNotFoundError(f"--{flag}-run {folder}: no such folder")
    picks = {"prm": args.prm_run, "refusal": args.refusal_run, "denoise": args.denoise_run}
    app = create_app(runs=args.runs, data_dir=args.data_dir, stance_dir=args.stance, switch_dir=args.switch,
                     picks=picks)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}: anyone who can reach this address can use the app")
    print(f"quartet: http://{args.host}:{args.port}/  (API docs at /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if args.verbose else "warning")
    return 0


def register(subparsers, name: str, help_text: str) -> None:
    p = subparsers.add_parser(
        name, help=help_text, description=help_text,
        epilog="example:\n  quartet serve --runs runs --port 8000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runs", type=Path, default=Path("runs"), help="folder of run directories to serve")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--data-dir", type=Path, default=Path("runs/web"),
                   help="where uploads and their results are kept (default runs/web)")
    p.add_argument("--stance", type=Path, default=None,
                   help="a saved stance detector folder (default: the first one found under --runs)")
    p.add_argument("--switch", type=Path, default=None,
                   help="a saved LM-Switch folder for red teaming (default: the first one found under --runs)")
    p.add_argument("--prm-run", type=Path, default=None,
                   help="a finished `quartet prm pipeline` run folder (default: the first one under --runs)")
    p.add_argument("--refusal-run", type=Path, default=None,
                   help="a finished `quartet refusal pipeline` run folder (default: the first one under --runs)")
    p.add_argument("--denoise-run", type=Path, default=None,
                   help="a denoiser training run folder (default: the SPA one with most levels under --runs)")
    p.set_defaults(handler=serve)
