"""Markdown tables of the stance and red-teaming results (pure functions of the JSON artifacts)."""

from __future__ import annotations

from typing import Any


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def stance_rows(results: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """One row per (data set, detector): training messages, evaluation messages, accuracy, macro-F1,
    F_avg (percent), per-class F1.

    The training size is shown because detectors may be fitted on different amounts of data
    (``data.max_fit`` caps all but TF-IDF); comparing them without it would mislead.
    """
    rows = []
    for dataset, by_kind in results.items():
        for kind, m in by_kind.items():
            per_class = ", ".join(f"{k} {_pct(v)}" for k, v in m["per_class_f1"].items())
            n_fit = m.get("fit", {}).get("n_fit", "–")
            rows.append([dataset, kind, n_fit, m["n"], _pct(m["accuracy"]), _pct(m["macro_f1"]), _pct(m["f_avg"]),
                         per_class])
    return rows


STANCE_COLUMNS = ["data set", "detector", "trained on", "n", "accuracy", "macro-F1", "F_avg", "per-class F1"]


def stance_markdown(results: dict[str, dict[str, Any]]) -> str:
    """
    >>> m = {"n": 2, "accuracy": 0.5, "macro_f1": 0.5, "f_avg": None, "per_class_f1": {"a": 0.5}, "fit": {"n_fit": 8}}
    >>> stance_markdown({"d": {"tfidf": m}}).splitlines()[2]
    '| d | tfidf | 8 | 2 | 50.0 | 50.0 | – | a 50.0 |'
    """
    lines = ["| " + " | ".join(STANCE_COLUMNS) + " |", "|" + "---|" * len(STANCE_COLUMNS)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in stance_rows(results)]
    return "\n".join(lines) + "\n"


def redteam_columns(result: dict[str, Any]) -> list[str]:
    others = list(result["rows"][0].get("flip_rate_by", {})) if result["rows"] else []
    return (["|s|", "responses", f"flip rate ({result.get('flip_detector', 'encoder')})"]
            + [f"flip rate ({name})" for name in others] + ["perplexity", "distinct-1", "distinct-2", "empty"])


def redteam_rows(result: dict[str, Any]) -> list[list[Any]]:
    return [[r["abs_s"], r["n_responses"], _pct(r["flip_rate"])] + [_pct(v) for v in r.get("flip_rate_by", {}).values()]
            + [round(r["perplexity"], 1), round(r["distinct_1"], 3), round(r["distinct_2"], 3), r["empty"]]
            for r in result["rows"]]


def redteam_markdown(result: dict[str, Any]) -> str:
    columns = redteam_columns(result)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in redteam_rows(result)]
    quality = result.get("flip_detector_macro_f1") or {}
    if quality:
        lines += ["", "flip detectors' macro-F1 on this data set's eval split: "
                  + ", ".join(f"{k} {_pct(v)}" for k, v in quality.items())]
    for ex in result.get("examples", []):
        src = ex["source"]
        lines += ["", f"**{src['target']}** — source ({src['stance']}): {src['text']}",
                  f"responses as `{ex['target_side']}`:"]
        for r in ex["responses"]:
            spans = "; ".join(f"{e['text']!r} ({e['side']})" for e in r["evidence"])
            lines.append(f"- s={r['s']:+g}: {r['text']}" + (f"  — evidence: {spans}" if spans else ""))
    return "\n".join(lines) + "\n"
