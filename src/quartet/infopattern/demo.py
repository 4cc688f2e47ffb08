"""The InfoPattern part of ``quartet demo``: ``run_demo(root, config=None) -> DemoSection``.

Runs the stance + red-teaming pipeline (``configs/infopattern/tiny.yaml``) under ``root``:
on ArgQ, RumourEval and Catalonia when the social data is there (``$QUARTET_DATA`` or
``../shared/data``), else on the built-in message set; then adds the claim-propagation graph
part (``quartet.infopattern.graph.demo``). Every stage is resumable, so a second call only
reads finished files and redraws nothing.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from quartet.core.config import load_config
from quartet.core.demo import DemoSection, Example, Figure, Table
from quartet.core.io import atomic_write_json
from quartet.infopattern.config import InfoPatternConfig
from quartet.infopattern.loaders import dataset_available, social_root
from quartet.infopattern.pipeline import run_pipeline
from quartet.infopattern.redteam import highlight_html
from quartet.infopattern.report import STANCE_COLUMNS, redteam_columns, redteam_rows, stance_rows

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "infopattern" / "tiny.yaml"

PAPER = (
    "InfoPattern (Han et al., 2023; a system demonstration) detects the stance of social-media messages, "
    "red-teams them by generating what the opposite ideological community would write, and tracks claims "
    "across communities. Its stance scoring and red teaming use LM-Switch on GPT-J: a low-rank linear map of "
    "the final hidden state, h' = h + ε·s·(h·W), with the base model frozen. The demo paper reports no "
    "stance scores or flip rates; published anchors for the data used here: TweetEval-style transformers "
    "reach about 70 macro-F1 on SemEval-2016 stance, and the RumourEval 2017 SDQC winner reported 0.784 "
    "accuracy (Kochkina et al., 2017), where a majority 'comment' guess already scores about 0.6."
)


def demo_config(config: Path | str | InfoPatternConfig | None = None) -> InfoPatternConfig:
    """The config to run: ``config`` or tiny.yaml, switched to the built-in message set when data is missing."""
    if isinstance(config, InfoPatternConfig):
        cfg = config
    else:
        path = Path(config) if config is not None else DEFAULT_CONFIG
        cfg = load_config(InfoPatternConfig, path if path.is_file() else None)
    real = [d for d in cfg.data.datasets if d != "builtin" and dataset_available(d)]
    if len(real) < len([d for d in cfg.data.datasets if d != "builtin"]):
        cfg = dataclasses.replace(
            cfg, name=f"{cfg.name}-builtin", data=dataclasses.replace(cfg.data, datasets=("builtin",)),
            redteam=dataclasses.replace(cfg.redteam, dataset="builtin"),
        )
    return cfg


def _bar_figure(results: dict[str, dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(results)
    kinds = sorted({k for by in results.values() for k in by})
    fig, ax = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / max(1, len(kinds))
    for j, kind in enumerate(kinds):
        values = [100 * results[d][kind]["macro_f1"] if kind in results[d] else 0 for d in datasets]
        bars = ax.bar([i + j * width for i in range(len(datasets))], values, width, label=kind)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks([i + width * (len(kinds) - 1) / 2 for i in range(len(datasets))], datasets)
    ax.set_ylabel("macro-F1 (%)")
    ax.set_title("Stance detection on the eval splits")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _flip_figure(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["abs_s"] for r in result["rows"]]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(xs, [100 * r["flip_rate"] for r in result["rows"]], "o-", color="#d64541",
            label=f"flip rate ({result.get('flip_detector', 'encoder')})")
    for name in result["rows"][0].get("flip_rate_by", {}):
        ax.plot(xs, [100 * r["flip_rate_by"][name] for r in result["rows"]], "o:", color="#e9a23b",
                label=f"flip rate ({name})")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_xlabel("|s| (switch magnitude toward the opposite side; 0 = base model)")
    ax.set_ylabel("flip rate (%)", color="#d64541")
    other = ax.twinx()
    other.plot(xs, [r["perplexity"] for r in result["rows"]], "s--", color="#2f6fde", label="perplexity")
    other.set_ylabel("perplexity under the base LM", color="#2f6fde")
    ax.set_title(f"Red teaming on {result['dataset']}: flip rate and fluency vs |s|")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _found(stance: dict[str, dict[str, Any]], red: dict[str, Any], cfg: InfoPatternConfig) -> str:
    parts = []
    for dataset, by in stance.items():
        scores = ", ".join(f"{k} {100 * m['macro_f1']:.1f}" for k, m in by.items())
        parts.append(f"{dataset} ({by[next(iter(by))]['n']} {cfg.data.eval_split} messages) macro-F1: {scores}")
    rows = red["rows"]
    base = next((r for r in rows if r["abs_s"] == 0), rows[0])
    top = rows[-1]

    def by_s(key: str | None) -> str:
        return ", ".join(f"{r['abs_s']:g}: {100 * (r['flip_rate'] if key is None else r['flip_rate_by'][key]):.0f}%"
                         for r in rows)

    quality = red.get("flip_detector_macro_f1") or {}
    names = [red.get("flip_detector", "encoder"), *rows[0].get("flip_rate_by", {})]
    flips = []
    for i, name in enumerate(names):
        note = f" (macro-F1 {100 * quality[name]:.0f} on {red['dataset']})" if name in quality else ""
        flips.append(f"{name}{note} by |s| = {by_s(None if i == 0 else name)}")
    flips = "; ".join(flips)
    flip = (f"Red teaming on {red['dataset']} ({red['n_sources']} sources × {red['k']} responses): share of "
            f"responses each detector assigns to the opposite side (|s| = 0 is the base model): {flips}. "
            f"Perplexity under the base LM {base['perplexity']:.1f} at |s| = 0 and {top['perplexity']:.1f} at "
            f"|s| = {top['abs_s']:g}; distinct-2 {base['distinct_2']:.2f} -> {top['distinct_2']:.2f}.")
    scale = (f"Base LMs here are {cfg.lm.n_layers}-layer, width-{cfg.lm.dim} models trained for {cfg.lm.train.steps} "
             "steps on each data set's train split, not GPT-J; the switch-likelihood detector is therefore weak.")
    return "; ".join(parts) + ". " + flip + " " + scale


def _examples(red: dict[str, Any]) -> list[Example]:
    out = []
    for ex in red.get("examples", []):
        src = ex["source"]
        lines = [f"source ({src['stance']}) on '{src['target']}': {src['text']}"]
        html_lines = [f"<p><b>source ({src['stance']})</b> on <i>{highlight_html(src['target'] or '', [])}</i>: "
                      f"{highlight_html(src['text'], [])}</p><ul>"]
        for r in ex["responses"]:
            lines.append(f"  as {ex['target_side']} (s={r['s']:+g}): {r['text']}")
            html_lines.append(f"<li>s={r['s']:+g}: {highlight_html(r['text'], r['evidence'])}</li>")
        html_lines.append("</ul><p><small>marked: evidence spans (loss differs most between +s and −s)</small></p>")
        out.append(Example(title=f"Red teaming: responses as '{ex['target_side']}'", text="\n".join(lines),
                           html="".join(html_lines)))
    return out


def run_demo(root: Path, config: Path | str | InfoPatternConfig | None = None) -> DemoSection:
    """Run (or resume) the InfoPattern demo under ``root`` and return its report section."""
    started = time.perf_counter()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    cfg = demo_config(config)
    real = "builtin" not in cfg.data.datasets
    run_path = run_pipeline(cfg, runs=root)
    artifacts = run_path / "artifacts"
    stance = json.loads((artifacts / "stance.json").read_text(encoding="utf-8"))
    red = json.loads((artifacts / "redteam.json").read_text(encoding="utf-8"))
    figures = []
    for name, draw, data, title in (("stance_f1.png", _bar_figure, stance, "Stance macro-F1 per data set"),
                                    ("redteam_flip.png", _flip_figure, red, "Red-teaming flip rate vs |s|")):
        path = root / name
        if not path.is_file():
            draw(data, path)
        figures.append(Figure(title=title, path=str(path)))
    tables = [Table(f"Stance detection ({cfg.data.eval_split} splits)", STANCE_COLUMNS, stance_rows(stance)),
              Table(f"Red teaming on {red['dataset']}", redteam_columns(red), redteam_rows(red))]
    examples = _examples(red)

    from quartet.infopattern.graph.demo import graph_section_parts

    # The graph part follows the stance part's data: RumourEval when the real data is used, else built in.
    g_tables, g_figures, g_examples = graph_section_parts(root, social_root() if real else root / "no-data")
    tables += g_tables
    figures += g_figures
    examples += g_examples

    timing_path = root / "timing.json"
    first = json.loads(timing_path.read_text())["seconds"] if timing_path.is_file() else None
    seconds = round(time.perf_counter() - started, 1)
    if first is None:
        atomic_write_json(timing_path, {"seconds": seconds})
    section = DemoSection(
        system="infopattern", title="InfoPattern: stance detection, red teaming with LM-Switch, claim graphs",
        paper_reports=PAPER, this_run_found=_found(stance, red, cfg), tables=tables, figures=figures,
        examples=examples, run_dirs=[str(run_path), str(root / "graph")], seeds=[cfg.seed],
        seconds=first if first is not None else seconds,
    )
    section.save(root / "section.json")
    return section
