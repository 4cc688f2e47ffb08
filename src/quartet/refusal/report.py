"""Results of a finished pipeline: ``results.json``, a Markdown table like the paper's, the
risk–coverage plot and answered / declined examples, all under ``artifacts/``.

Every number is recomputed from the per-question evaluation records, so the report can be
re-rendered at any time without touching a model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from quartet.core.io import atomic_write_json, atomic_write_text
from quartet.core.records import iter_jsonl
from quartet.core.runs import RunDir
from quartet.refusal.config import RefusalConfig
from quartet.refusal.evaluate import declined, headline_confidence, summarize
from quartet.refusal.metrics import mean_risk_at_coverage

ENTROPY = "vanilla_entropy"  # the vanilla model ranked by the entropy of K samples (test-time uncertainty)
LABELS = {"vanilla": "Vanilla", "rtuning": "R-Tuning", "rtuning_r": "R-Tuning-R", "rtuning_u": "R-Tuning-U",
          ENTROPY: "Vanilla + entropy"}
MAX_PANELS = 4  # the risk–coverage plot draws at most this many sets, to stay readable
COVERAGE_POINTS = 100  # the common coverage grid the seeds' curves are averaged on
COLUMNS = [("accuracy", "Acc"), ("ap", "AP"), ("ap_answer", "AP ans"), ("ap_sure", "AP sure"),
           ("ap_mean", "AP mean"), ("auroc", "AUROC"), ("ece", "ECE"), ("answer_rate", "Ans rate"),
           ("accuracy_answered", "Acc ans"), ("answer_rate_phrase", "Ans rate (phrase)")]
# What each column is, printed above the tables ({t}: eval.threshold); docs/refusal.md says the same.
LEGEND = [
    "Acc: accuracy of the greedy answers.",
    "AP: average precision of ranking right answers first by the headline confidence: the mean of answer "
    "confidence and P(sure); for Vanilla, whose P(sure) was never trained, the answer confidence alone; "
    "for Vanilla + entropy, 1 − H/ln K of K sampled answers.",
    "AP ans: AP of the answer confidence (geometric mean of the answer tokens' probabilities; multiple "
    "choice: softmax of the chosen letter).",
    "AP sure: AP of P(sure) = p(sure) / (p(sure) + p(unsure)).",
    "AP mean: AP of the mean of answer confidence and P(sure), for every method (Vanilla included).",
    "AUROC, ECE (10 bins): of the headline confidence (the one AP uses).",
    "Ans rate: share answered willingly, P(sure) > {t}, the same rule for every method; "
    "Acc ans: accuracy on those.",
    "Ans rate (phrase): share whose answer holds no refusal phrase (R-Tuning-R's way of declining).",
]


def _records(path: Path) -> list[dict[str, Any]]:
    return [r for _, r in iter_jsonl(path)] if path.is_file() else []


def _mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return math.nan, math.nan
    return float(np.mean(vals)), float(np.std(vals))


def _aggregate(per_seed: list[dict[str, float]]) -> dict[str, Any]:
    keys = sorted({k for s in per_seed for k in s})
    stats = {k: _mean_std([s.get(k, math.nan) for s in per_seed]) for k in keys}
    return {"per_seed": per_seed, "mean": {k: m for k, (m, _) in stats.items()},
            "std": {k: s for k, (_, s) in stats.items()}}


def collect(cfg: RefusalConfig, run: RunDir) -> dict[str, Any]:
    """{method: {set: aggregate over seeds}} from the evaluation records."""
    roles = json.loads((run.path / "data" / "sets.json").read_text())
    thr, bins = cfg.eval.threshold, cfg.eval.ece_bins
    methods: dict[str, dict[str, Any]] = {}
    for method in cfg.tune.methods:
        methods[method] = {}
        for name in roles:
            per_seed = [summarize(_records(run.path / "eval" / method / f"s{s}" / f"{name}.jsonl"), method, thr, bins)
                        for s in cfg.tune.seeds]
            methods[method][name] = _aggregate(per_seed)
    if "vanilla" in cfg.tune.methods and cfg.eval.entropy_baseline:
        methods[ENTROPY] = {}
        for name, role in roles.items():
            if role == "unanswerable":
                continue
            per_seed = []
            for s in cfg.tune.seeds:
                recs, conf = _entropy_ranked(cfg, run, name, s)
                summary = summarize(recs, "vanilla", thr, bins, conf)
                for key in ("ap_answer", "ap_sure", "ap_mean"):  # the vanilla row's, not this confidence's
                    summary.pop(key, None)
                per_seed.append(summary)
            methods[ENTROPY][name] = _aggregate(per_seed)
    return {"roles": roles, "methods": methods}


def _entropy_ranked(cfg: RefusalConfig, run: RunDir, name: str, seed: int) -> tuple[list[dict[str, Any]],
                                                                                   list[float]]:
    """Vanilla + entropy on set ``name``: the vanilla model's records that have K samples, and the
    confidence 1 - H / ln K of each one's samples."""
    from quartet.refusal.build import entropy_of_answers

    scale = math.log(cfg.probe.k) if cfg.probe.k > 1 else 1.0
    samples = _records(run.path / "eval" / "entropy" / f"s{seed}" / f"{name}.jsonl")
    conf = {r["id"]: 1.0 - entropy_of_answers(r["samples"]) / scale for r in samples}
    recs = [r for r in _records(run.path / "eval" / "vanilla" / f"s{seed}" / f"{name}.jsonl") if r["id"] in conf]
    return recs, [conf[r["id"]] for r in recs]


def _cell(agg: dict[str, Any], key: str) -> str:
    m, s = agg["mean"].get(key, math.nan), agg["std"].get(key, math.nan)
    if m is None or math.isnan(m):
        return "–"
    return f"{m:.3f} ± {s:.3f}" if s and not math.isnan(s) else f"{m:.3f}"


def _pct(v: float | None) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def markdown(results: dict[str, Any], seeds: list[int]) -> str:
    """One table per answerable set (every metric), one for the unanswerable sets (refusal rate)."""
    t = results.get("threshold", 0.5)
    lines = [f"Mean ± std (numpy's population std, ddof 0) over tuning seeds {seeds}; a cell without ± "
             "has std 0 or one defined seed; – : undefined (e.g. AP with no right answer).", ""]
    lines += [f"- {line.format(t=t)}" for line in LEGEND]
    lines += [f"- Refusal rate on unanswerable questions: P(sure) ≤ {t} (every method), and by refusal-phrase "
              "detection (how R-Tuning-R declines).", ""]
    gap = results.get("probe", {}).get("gap_recovery")
    if gap:
        lines += [f"Probe: {results['probe']['d1']} of {results['probe']['n']} training questions answered right "
                  f"(D1). Against the facts the corpus states ({gap['stated']}), D1 has precision "
                  f"{_pct(gap['precision'])} and recall {_pct(gap['recall'])}.", ""]
    methods = results["methods"]
    for name, role in results["roles"].items():
        if role == "unanswerable":
            continue
        lines += [f"### {name} ({role})", "", "| method | " + " | ".join(c for _, c in COLUMNS) + " |",
                  "|---" * (len(COLUMNS) + 1) + "|"]
        for method, sets in methods.items():
            if name in sets:
                lines.append(f"| {LABELS.get(method, method)} | "
                             + " | ".join(_cell(sets[name], k) for k, _ in COLUMNS) + " |")
        lines.append("")
    unans = [n for n, r in results["roles"].items() if r == "unanswerable"]
    if unans:
        heads = [h for n in unans for h in (f"{n}: P(sure) ≤ {t}", f"{n}: refusal phrase")]
        lines += ["### refusal rate on unanswerable questions", "", "| method | " + " | ".join(heads) + " |",
                  "|---" * (len(heads) + 1) + "|"]
        for method, sets in methods.items():
            if all(n in sets for n in unans):
                lines.append(f"| {LABELS.get(method, method)} | " + " | ".join(
                    _cell(sets[n], key) for n in unans for key in ("refusal_rate", "refusal_rate_phrase")) + " |")
        lines.append("")
    return "\n".join(lines)


def _seed_rankings(cfg: RefusalConfig, run: RunDir, name: str) -> dict[str, list[tuple[list[int], list[float]]]]:
    """{method: [(correct, headline confidence) of each seed]} on set ``name``, Vanilla + entropy included
    when it was evaluated; seeds without records are left out, and so are methods without any."""
    per_method: dict[str, list[tuple[list[dict[str, Any]], list[float]]]] = {}
    for method in cfg.tune.methods:
        seeds = [_records(run.path / "eval" / method / f"s{s}" / f"{name}.jsonl") for s in cfg.tune.seeds]
        per_method[method] = [(recs, [headline_confidence(r, method) for r in recs]) for recs in seeds]
    if "vanilla" in cfg.tune.methods and cfg.eval.entropy_baseline:
        per_method[ENTROPY] = [_entropy_ranked(cfg, run, name, s) for s in cfg.tune.seeds]
    out = {m: [([int(r["correct"]) for r in recs], conf) for recs, conf in runs if recs]
           for m, runs in per_method.items()}
    return {m: runs for m, runs in out.items() if runs}


def risk_coverage_curves(cfg: RefusalConfig, run: RunDir, roles: dict[str, str],
                         grid: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """{set: {method: risk at each coverage of ``grid``, mean over seeds}} for the first ``MAX_PANELS``
    answerable sets with at least one right answer (with none, every ranking has risk 1)."""
    curves = {}
    for name, role in roles.items():
        rankings = _seed_rankings(cfg, run, name) if role != "unanswerable" else {}
        if any(any(correct) for runs in rankings.values() for correct, _ in runs):
            curves[name] = {m: mean_risk_at_coverage(runs, grid) for m, runs in rankings.items()}
    return dict(list(curves.items())[:MAX_PANELS])


def plot_risk_coverage(curves: dict[str, dict[str, np.ndarray]], grid: np.ndarray, roles: dict[str, str],
                       seeds: list[int], path: Path) -> None:
    """One panel per set: each method's mean risk (error rate among answered) against coverage, the most
    confident answered first; the test-time baseline Vanilla + entropy dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(2, max(1, len(curves)))
    rows = math.ceil(max(1, len(curves)) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.2 * rows), squeeze=False)
    for ax, (name, by_method) in zip(axes.flat, curves.items(), strict=False):
        for method, risk in by_method.items():
            ax.plot(grid, risk, label=LABELS.get(method, method), linestyle="--" if method == ENTROPY else "-")
        ax.set(title=f"{name} ({roles[name]})", xlabel="coverage", ylabel="risk (error rate)", xlim=(0, 1),
               ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes.flat[len(curves):]:
        ax.axis("off")
    if not curves:
        axes[0, 0].text(0.5, 0.5, "no evaluated set has a right answer", ha="center", va="center")
    fig.suptitle(f"Risk–coverage, mean over tuning seeds {seeds}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def examples(cfg: RefusalConfig, run: RunDir, n: int) -> list[dict[str, Any]]:
    """Questions the R-Tuning model (first seed) answered and declined, ID and unanswerable."""
    from quartet.refusal.pipeline import read_sets

    method = next((m for m in ("rtuning", "rtuning_r", "rtuning_u") if m in cfg.tune.methods), None)
    if method is None:
        return []
    out = []
    for name, (_, items) in read_sets(run).items():
        by_id = {it.id: it for it in items}
        recs = _records(run.path / "eval" / method / f"s{cfg.tune.seeds[0]}" / f"{name}.jsonl")
        for want in (False, True):
            picked = [r for r in recs if declined(r, method, cfg.eval.threshold) == want][: max(1, n // 2)]
            out += [{"set": name, "method": method, "question": by_id[r["id"]].question,
                     "gold": by_id[r["id"]].answer, "prediction": r["prediction"], "p_sure": r["p_sure"],
                     "answer_conf": r["answer_conf"], "correct": r["correct"], "declined": want,
                     "stated": by_id[r["id"]].stated} for r in picked]
    return out


def _no_nan(obj: Any) -> Any:
    """NaN (undefined metric) -> None, so results.json is strict JSON."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_no_nan(v) for v in obj]
    return obj


def write_report(cfg: RefusalConfig, run: RunDir) -> dict[str, Any]:
    results = collect(cfg, run)
    probe_path = run.path / "probe" / "recovery.json"
    results["probe"] = json.loads(probe_path.read_text()) if probe_path.is_file() else {}
    results["seeds"] = list(cfg.tune.seeds)
    results["threshold"] = cfg.eval.threshold
    atomic_write_json(run.artifacts / "results.json", _no_nan(results))
    atomic_write_text(run.artifacts / "results.md", markdown(results, list(cfg.tune.seeds)))
    grid = np.linspace(0, 1, COVERAGE_POINTS + 1)[1:]  # coverages in (0, 1]
    plot_risk_coverage(risk_coverage_curves(cfg, run, results["roles"], grid), grid, results["roles"],
                       list(cfg.tune.seeds), run.artifacts / "risk_coverage.png")
    atomic_write_json(run.artifacts / "examples.json", examples(cfg, run, cfg.eval.examples))
    return results
