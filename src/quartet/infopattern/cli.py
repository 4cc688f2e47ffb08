"""``quartet infopattern``: stance train | eval | predict, switch train, redteam, pipeline, graph …

Handlers are thin wrappers over ``quartet.infopattern.pipeline`` and friends; only this module prints.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from quartet.core.cliargs import add_config_args, add_verb, config_from_args
from quartet.infopattern.graph.cli import add_graph_verbs

DEFAULT_CONFIG = "configs/infopattern/tiny.yaml"


def _cfg(args: argparse.Namespace):
    from quartet.infopattern.config import InfoPatternConfig

    return config_from_args(InfoPatternConfig, args)


def _stance_train(args: argparse.Namespace) -> int:
    from quartet.infopattern.pipeline import run_stance_train

    path = run_stance_train(_cfg(args), args.runs)
    print(f"fitted detectors: {path}")
    return 0


def _stance_eval(args: argparse.Namespace) -> int:
    from quartet.infopattern.pipeline import run_stance_eval

    path = run_stance_eval(_cfg(args), args.runs)
    print((path / "artifacts" / "stance.md").read_text(encoding="utf-8"), end="")
    print(f"wrote {path / 'artifacts' / 'stance.json'}")
    return 0


def _read_inputs(args: argparse.Namespace):
    from quartet.infopattern.loaders import load_csv, load_jsonl
    from quartet.infopattern.messages import Message

    if args.text is not None:
        if not args.text.strip():
            raise ValueError("--text is empty")
        return [Message(id="text", text=args.text, target=args.target)]
    if args.input is None:
        raise ValueError("give --text or --input")
    mapping = {"text": args.text_field, "id": args.id_field}
    if args.target_field:
        mapping["target"] = args.target_field
    if args.input.suffix == ".csv":
        return load_csv(args.input, mapping, skip_bad=args.skip_bad)
    return load_jsonl(args.input, mapping, skip_bad=args.skip_bad)


def _stance_predict(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from quartet.infopattern.stance import load_detector

    detector = load_detector(args.detector)
    messages = _read_inputs(args)
    if args.target and args.text is None:
        messages = [m if m.target else replace(m, target=args.target) for m in messages]
    proba = detector.predict_proba(messages)
    for m, p in zip(messages, proba, strict=True):
        record = {"id": m.id, "stance": detector.classes_[int(p.argmax())],
                  "proba": {c: round(float(v), 4) for c, v in zip(detector.classes_, p, strict=True)}}
        if args.explain and hasattr(detector, "explain"):
            record.update(detector.explain(m))
        print(json.dumps(record, ensure_ascii=False))
    return 0


def _switch_train(args: argparse.Namespace) -> int:
    from quartet.infopattern.pipeline import run_switch_train

    cfg = _cfg(args)
    path = run_switch_train(cfg, args.runs)
    for dataset in cfg.data.datasets:
        print(f"{dataset}: switch in {path / dataset / 'switch'}")
    return 0


def _write_value(args: argparse.Namespace) -> float:
    """The switch value to write with: ``--s``, else the value of ``--opposite`` (the community to write as),
    else the opposite of the source's ``--side``; a topic alone has no source side to oppose."""
    from quartet.infopattern.messages import stance_value

    if args.s is not None:
        return args.s
    if args.opposite:
        if stance_value(args.opposite) == 0:
            raise ValueError(f"--opposite {args.opposite!r} is not a favor- or against-like label; give --s VALUE")
        return stance_value(args.opposite)
    if args.text is None:
        raise ValueError("a topic alone has no side to oppose: give --opposite NAME (the community to write as) "
                         "or --s VALUE")
    if stance_value(args.side) == 0:
        raise ValueError(f"--side {args.side!r} has no opposite; give --s VALUE")
    return -stance_value(args.side)


def _redteam(args: argparse.Namespace) -> int:
    if args.text is None and args.target is None:
        if args.lm or args.switch or args.endpoint:
            raise ValueError("give --text MESSAGE and/or --target TOPIC to red-team (or neither, without "
                             "--lm/--switch/--endpoint, to run the evaluation of --config)")
        from quartet.infopattern.pipeline import run_redteam

        path = run_redteam(_cfg(args), args.runs)
        print((path / "artifacts" / "redteam.md").read_text(encoding="utf-8"), end="")
        print(f"wrote {path / 'artifacts' / 'redteam.json'}")
        return 0
    from quartet.infopattern.messages import Message, stance_value
    from quartet.infopattern.redteam import ChatEndpoint, generate_responses
    from quartet.lm.protocol import SamplingParams

    if args.text is not None and not args.text.strip():
        raise ValueError("--text is empty")
    if args.text is None and not args.target.strip():
        raise ValueError("--target is empty")
    # No --text: a source with no text stands for its topic, and the responses are new messages on it.
    source = Message(id="input", text=args.text or "", target=args.target, stance=args.side, community=args.side)
    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                            seed=args.seed)
    lm = switch = None
    template = reply_template = ""
    if args.lm is not None and args.switch is not None:
        from quartet.infopattern.switch import LMSwitch, switch_meta, switch_templates
        from quartet.lm.backends import load_lm

        template, reply_template = switch_templates(switch_meta(args.switch))
        lm, switch = load_lm(args.lm), LMSwitch.load(args.switch)
    if args.endpoint:
        from quartet.infopattern.redteam import add_evidence

        if not args.opposite:
            raise ValueError("--endpoint needs --opposite NAME (the community to write as)")
        key = os.environ.get(args.api_key_env, "") if args.api_key_env else ""
        responses = ChatEndpoint(args.endpoint, args.model_name, key).respond(source, args.opposite, args.k, params)
        if switch is not None:  # the local switch scores the endpoint's replies: evidence spans
            s = args.s if args.s is not None else (-stance_value(args.side) or 1.0)
            responses = add_evidence(lm, switch, source, responses, s, template, reply_template, args.dim)
        else:
            print("evidence: none (give --lm and --switch to score the endpoint's replies with a local switch)")
    else:
        if switch is None:
            raise ValueError("give --lm and --switch (or --endpoint)")
        responses = generate_responses(lm, switch, [source], [_write_value(args)], args.k, params, template,
                                       with_evidence=True, reply_template=reply_template, dim=args.dim)[0]
    for r in responses:
        spans = "; ".join(f"[{e['side']}] {e['text']}" for e in r.evidence)
        print(f"(s={r.s:+g}, {r.finish_reason}) {r.text}" + (f"\n    evidence: {spans}" if spans else ""))
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    from quartet.infopattern.pipeline import run_pipeline

    path = run_pipeline(_cfg(args), args.runs)
    for name in ("stance.md", "redteam.md"):
        print((path / "artifacts" / name).read_text(encoding="utf-8"))
    print(f"run: {path}")
    return 0


def _config_verb(verbs, name, handler, help_text, example):
    parser = add_verb(verbs, name, handler, help_text, example)
    parser.add_argument("--runs", type=Path, default=None, help="runs folder (default $QUARTET_RUNS or ./runs)")
    add_config_args(parser, DEFAULT_CONFIG)
    return parser


def _group(verbs, name: str, help_text: str):
    parser = verbs.add_parser(name, help=help_text, description=help_text)
    return parser.add_subparsers(dest=f"{name}_verb", metavar="<verb>", required=True)


def register(subparsers, name: str, help_text: str) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="<verb>")

    stance = _group(verbs, "stance", "stance detection: train, eval, predict")
    _config_verb(stance, "train", _stance_train, "fit the stance detectors on each data set's train split",
                 f"quartet infopattern stance train --config {DEFAULT_CONFIG} stance.detectors=[tfidf,encoder]")
    _config_verb(stance, "eval", _stance_eval, "stance metrics on each data set's eval split (artifacts/stance.json)",
                 f"quartet infopattern stance eval --config {DEFAULT_CONFIG}")
    p = add_verb(stance, "predict", _stance_predict, "stance of messages with a fitted detector (JSON lines out)",
                 "quartet infopattern stance predict --detector runs/infopattern/tiny/argq/detectors/encoder "
                 "--text 'We should ban it, it hurts kids' --target 'We should ban gambling'")
    p.add_argument("--detector", type=Path, required=True, help="a detector folder (detector.json)")
    p.add_argument("--text", help="one message")
    p.add_argument("--target", help="topic of --text (or default topic for --input rows without one)")
    p.add_argument("--input", type=Path, help="messages file (.jsonl or .csv)")
    p.add_argument("--text-field", default="text", help="column holding the text")
    p.add_argument("--id-field", default="id", help="column holding the id")
    p.add_argument("--target-field", default="", help="column holding the topic (optional)")
    p.add_argument("--skip-bad", action="store_true", help="skip bad records (counted in the log) instead of failing")
    p.add_argument("--explain", action="store_true", help="switch detector: stance bins and evidence spans")

    switch = _group(verbs, "switch", "LM-Switch: train a stance switch on a frozen language model")
    _config_verb(switch, "train", _switch_train, "train the base LM (built in) and the LM-Switch per data set; "
                 "several stance dimensions: switch.n_dims=K and switch.value_map={label: [s_1, …, s_K], …}",
                 f"quartet infopattern switch train --config {DEFAULT_CONFIG} lm.model=/models/Qwen2.5-0.5B "
                 "'switch.n_dims=2' 'switch.value_map={support: [1, 0], deny: [-1, 0], query: [0, 1], comment: [0, -1]}'")

    p = _config_verb(verbs, "redteam", _redteam,
                     "responses to a message (--text) or new messages on a topic alone (--target) as a "
                     "community would write them; without either: the evaluation of --config",
                     "quartet infopattern redteam --lm runs/infopattern/tiny/argq/lm/model "
                     "--switch runs/infopattern/tiny/argq/switch --text 'Gambling should be banned' "
                     "--target 'We should ban gambling' --side pro --k 3\n"
                     "  quartet infopattern redteam --lm runs/infopattern/tiny/argq/lm/model "
                     "--switch runs/infopattern/tiny/argq/switch --target 'We should ban gambling' --opposite con")
    p.add_argument("--text", help="the source message (omit it and give --target to write from the topic alone; "
                   "omit both to run the red-team evaluation of the config)")
    p.add_argument("--target", help="its topic (alone, without --text: the topic the responses are about)")
    p.add_argument("--side", default="pro", help="the source's stance/community label (pro, con, favor, …)")
    p.add_argument("--s", type=float, default=None,
                   help="switch value to write with (default: that of --opposite, else −s of --side)")
    p.add_argument("--k", type=int, default=3, help="responses")
    p.add_argument("--lm", type=Path, help="base LM folder (quartet or Hugging Face)")
    p.add_argument("--switch", type=Path, help="switch folder (switch.safetensors); with --endpoint it scores "
                   "the replies for evidence spans")
    p.add_argument("--dim", type=int, default=0, help="the switch dimension --s moves (several-dimension switches)")
    p.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://host:8000/v1 (instead of --lm)")
    p.add_argument("--model-name", default="default", help="model name sent to --endpoint")
    p.add_argument("--api-key-env", default="", help="environment variable holding the endpoint's API key")
    p.add_argument("--opposite", help="the community to write as (pro, con, …): the endpoint's persona, "
                   "the switch's value unless --s; needed with --endpoint, and (or --s) with a topic alone")
    p.add_argument("--max-new-tokens", type=int, default=40, help="generation length limit")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)

    _config_verb(verbs, "pipeline", _pipeline, "switches, detectors, stance report and red-team report in one go",
                 f"quartet infopattern pipeline --config {DEFAULT_CONFIG}")
    add_graph_verbs(verbs)
