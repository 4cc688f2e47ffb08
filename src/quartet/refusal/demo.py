"""The R-Tuning section of ``quartet demo``: the whole pipeline on the fact world, then a summary.

``run_demo(root)`` runs ``configs/refusal/tiny.yaml`` with its run directory at ``root/run``
(every stage resumes, so a second call only re-renders the report) and returns a
``DemoSection``: AP of Vanilla / R-Tuning / R-Tuning-R / R-Tuning-U in and out of domain,
refusal rates on false-premise questions, the risk–coverage plot, and questions the
R-Tuning model answered and declined.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

from quartet.core.config import load_config
from quartet.core.demo import DemoSection, Example, Figure, Table
from quartet.core.io import atomic_write_json
from quartet.refusal.config import RefusalConfig
from quartet.refusal.pipeline import run_pipeline
from quartet.refusal.report import ENTROPY, LABELS

TINY = Path(__file__).resolve().parents[3] / "configs" / "refusal" / "tiny.yaml"

PAPER = ("R-Tuning (Zhang, Diao et al., NAACL 2024) probes a model on its instruction data, splits it into "
         "what the model answers right (D1) and wrong (D0), and tunes it to append \"I am sure\" / \"I am unsure\" "
         "to its answers. On ParaRel, HotpotQA, SelfAware, HaluEval and MMLU with OpenLLaMA-3B and LLaMA-7B/13B, "
         "the AP of ranking answers by confidence (mean of answer probability and P(sure)) is higher for R-Tuning "
         "than for Vanilla instruction tuning, in domain and out of domain (refusal as a meta-skill); R-Tuning-R declines on unanswerable questions; and learning uncertainty during training beats "
         "ranking a vanilla model by the entropy of sampled answers at test time.")


def _config(config: RefusalConfig | Path | str | None) -> RefusalConfig:
    if isinstance(config, RefusalConfig):
        return config
    return load_config(RefusalConfig, Path(config) if config is not None else TINY)


def _num(agg: dict[str, Any] | None, key: str) -> float | None:
    if not agg:
        return None
    v = agg["mean"].get(key)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(v, 3)


def ap_table(results: dict[str, Any]) -> Table:
    """Per method: AP (mean ± std as two numbers) and accuracy on each answerable set, refusal rate."""
    roles = results["roles"]
    answerable = [n for n, r in roles.items() if r != "unanswerable"]
    unanswerable = [n for n, r in roles.items() if r == "unanswerable"]
    cols = ["method"]
    for n in answerable:
        cols += [f"AP {n} ({roles[n]})", "± std", f"acc {n}"]
    cols += [f"refusal rate {n}" for n in unanswerable]
    rows = []
    for method, sets in results["methods"].items():
        row: list[Any] = [LABELS.get(method, method)]
        for n in answerable:
            agg = sets.get(n)
            std = agg["std"].get("ap") if agg else None
            row += [_num(agg, "ap"), None if std is None else round(std, 3), _num(agg, "accuracy")]
        row += [_num(sets.get(n), "refusal_rate") for n in unanswerable]
        rows.append(row)
    return Table(f"AP of ranking answers by confidence, mean over tuning seeds {results['seeds']}", cols, rows)


def _fmt(v: float | None) -> str:
    return "undefined" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def findings(results: dict[str, Any]) -> str:
    m, roles = results["methods"], results["roles"]
    probe = results.get("probe", {})
    gap = probe.get("gap_recovery", {})
    parts = []
    if gap:
        parts.append(f"The probe puts {probe['d1']} of {probe['n']} training questions in D1; against the "
                     f"facts the corpus states (known by construction) its precision is {_fmt(gap['precision'])} "
                     f"and recall {_fmt(gap['recall'])}.")
    for name, role in roles.items():
        if role == "unanswerable" or "vanilla" not in m or "rtuning" not in m:
            continue
        v, r = _num(m["vanilla"].get(name), "ap"), _num(m["rtuning"].get(name), "ap")
        e = _num(m.get(ENTROPY, {}).get(name), "ap")
        if v is None or r is None:
            parts.append(f"On {name} ({role}) AP is undefined (no correct answer: accuracy "
                         f"{_num(m['vanilla'].get(name), 'accuracy')}).")
            continue
        verdict = "beats" if r > v else "does not beat"
        au_v, au_r = _num(m["vanilla"].get(name), "auroc"), _num(m["rtuning"].get(name), "auroc")
        chance = au_v is not None and au_r is not None and max(au_v, au_r) < 0.55
        parts.append(f"On {name} ({role}) R-Tuning's AP {r:.3f} {verdict} Vanilla's {v:.3f}"
                     + (f" (Vanilla ranked by sample entropy: {e:.3f})" if e is not None else "")
                     + (f"; but both rank at chance (AUROC {au_r:.2f} / {au_v:.2f}), so the AP gap only "
                        "follows the accuracy gap" if chance else "") + ".")
    for name, role in roles.items():
        if role == "unanswerable":
            parts.append(f"On {name} questions the refusal rate is " + ", ".join(
                f"{LABELS.get(k, k)} {_num(v.get(name), 'refusal_rate')}" for k, v in m.items() if name in v) + ".")
    return " ".join(parts)


def _examples(run: Path, per_kind: int = 2) -> list[Example]:
    """At most ``per_kind`` answered and declined questions per set, fact-world sets first."""
    picked: dict[tuple[str, bool], int] = {}
    out = []
    rows = json.loads((run / "artifacts" / "examples.json").read_text())
    for ex in sorted(rows, key=lambda e: e["stated"] is None):
        key = (ex["set"], ex["declined"])
        picked[key] = picked.get(key, 0) + 1
        if picked[key] > per_kind or (ex["stated"] is None and len(out) >= 8):
            continue
        what = "declined" if ex["declined"] else "answered"
        known = {True: "stated in pretraining", False: "never stated", None: "not a world fact"}[ex["stated"]]
        out.append(Example(
            f"{LABELS[ex['method']]} {what} ({ex['set']}, {known})",
            f"Q: {ex['question']}\nmodel: {ex['prediction']}   (gold: {ex['gold'] or 'none: unanswerable'})\n"
            f"P(sure) = {ex['p_sure']:.2f}, answer confidence = {ex['answer_conf']:.2f}, "
            f"{'right' if ex['correct'] else 'wrong'}"))
    return out


def run_demo(root: Path, config: RefusalConfig | Path | str | None = None) -> DemoSection:
    """Run (or resume) the pipeline under ``root/run`` and summarise it."""
    root = Path(root)
    started = time.time()
    cfg = dataclasses.replace(_config(config), run_dir=str(root / "run"))
    run = run_pipeline(cfg)
    spent_path = root / "seconds.json"
    spent = json.loads(spent_path.read_text())["seconds"] if spent_path.exists() else 0.0
    spent += time.time() - started
    atomic_write_json(spent_path, {"seconds": spent})
    results = json.loads((run / "artifacts" / "results.json").read_text())
    section = DemoSection(
        system="refusal", title="R-Tuning: refusal-aware instruction tuning", paper_reports=PAPER,
        this_run_found=findings(results), tables=[ap_table(results)],
        figures=[Figure("Risk (error rate among answered) against coverage, most confident answered first",
                        str(run / "artifacts" / "risk_coverage.png"))],
        examples=_examples(run), run_dirs=[str(run)], seeds=sorted({cfg.seed, *cfg.tune.seeds}), seconds=round(spent, 1))
    section.save(root / "section.json")
    return section
