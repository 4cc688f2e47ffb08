"""The PRM section of ``quartet demo``: the whole pipeline on the embedded world, then a summary.

``run_demo(root)`` runs ``configs/prm/tiny.yaml`` with its run directory at ``root/run``
(every stage resumes, so a second call only rebuilds the summary) and returns a
``DemoSection``: best-of-N accuracy against N per method (figure and table), RAFT's
greedy accuracy per iteration, and one test problem with every step of the candidate
the ER-PRM picked, coloured by its score.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import time
from pathlib import Path

from quartet.core.config import load_config
from quartet.core.demo import DemoSection, Example, Figure, Table
from quartet.core.io import atomic_write_json
from quartet.prm.config import PipelineConfig
from quartet.prm.formats import read_solutions
from quartet.prm.pipeline import run_pipeline, scorer_aggregate
from quartet.prm.report import aggregation_note, method_aggregate, plot_bon

log = logging.getLogger(__name__)

TINY = Path(__file__).resolve().parents[3] / "configs" / "prm" / "tiny.yaml"

PAPER = ("ER-PRM (Zhang et al., TMLR 2025) labels each reasoning step from Monte-Carlo rollouts of the policy "
         "with an entropy-regularized value, (1/eta) log(mean exp(eta r)), between the soft (mean) and hard "
         "(any success) labels. On GSM8K and MATH, best-of-N reranking with ER-PRM beats PRMs trained on soft "
         "or hard labels by about 1 point on GSM8K and 2-3 points on MATH, and RAFT with ER-PRM improves the "
         "policy by more than 1 point over the other PRMs.")


def _config(config: PipelineConfig | Path | str | None) -> PipelineConfig:
    if isinstance(config, PipelineConfig):
        return config
    return load_config(PipelineConfig, Path(config) if config is not None else TINY)


def _pick(names: list[str], prefix: str) -> list[str]:
    return [n for n in names if n.startswith(prefix)]


def bon_table(bon: dict) -> Table:
    rows = []
    for name, m in bon["methods"].items():
        rows.append([name, method_aggregate(bon, name)] + [round(a, 3) for a in m["acc"]]
                    + [f"[{m['ci95'][-1][0]:.2f}, {m['ci95'][-1][1]:.2f}]"])
    ns = bon["ns"]
    return Table(f"Best-of-N test accuracy ({bon['n_problems']} problems, mean of {len(bon['seeds'])} subsampling "
                 f"seeds; {aggregation_note(bon)})",
                 ["method", "aggregation"] + [f"N={n}" for n in ns] + [f"95% CI at N={ns[-1]}"], rows)


def raft_table(raft: dict) -> Table:
    iters = max((len(v["greedy_acc"]) for v in raft["prms"].values()), default=0)
    rows = [[name, v.get("aggregate", "-")] + [round(a, 3) for a in v["greedy_acc"]]
            + [round(v["kept_correct"][-1], 3) if v["kept_correct"] else None] for name, v in raft["prms"].items()]
    return Table(f"RAFT: greedy test accuracy per iteration ({raft['prompts']} prompts, best of {raft['samples']} "
                 "by PRM score, aggregated as shown; iteration 0 is the SFT policy)",
                 ["PRM", "aggregation"] + [f"iter {t}" for t in range(iters)] + ["kept solutions correct (last iter)"],
                 rows)


def _colour(score: float) -> str:
    """Red (0) to green (1)."""
    s = min(1.0, max(0.0, score))
    return f"rgb({int(230 - 130 * s)}, {int(120 + 110 * s)}, 120)"


def example_html(question: str, steps: list[str], scores: list[float], correct: bool, gold: str) -> str:
    """Steps coloured by P(+); every string that came from data or the model is escaped.

    >>> example_html("1 + 1 ?", ["<b>2</b>"], [0.9], True, "2").count("&lt;b&gt;")
    1
    """
    lines = [f"<p><b>Question:</b> {html.escape(question)}</p>", "<ol>"]
    for step, score in zip(steps, scores, strict=True):
        lines.append(f'<li><span style="background:{_colour(score)};padding:0 4px">{html.escape(step)}</span> '
                     f"<code>P(+)={score:.2f}</code></li>")
    lines.append(f"</ol><p>gold answer {html.escape(gold)}; this candidate is "
                 f"<b>{'right' if correct else 'wrong'}</b></p>")
    return "\n".join(lines)


def pick_example(run: Path, scorer: str, how: str = "min") -> Example | None:
    """The test problem where ``scorer``'s choice among all candidates is right and majority vote's
    is not, when there is one (else the first problem); its chosen candidate, step by step."""
    from quartet.prm.best_of_n import aggregate, majority_vote
    from quartet.prm.formats import group_by_problem
    from quartet.prm.pipeline import _normal

    scores = json.loads((run / "scores" / f"{scorer}.json").read_text())
    groups = group_by_problem(read_solutions(run / "candidates_test.jsonl"))
    questions = {json.loads(line)["id"]: json.loads(line)["question"]
                 for line in (run / "data/test.jsonl").read_text().splitlines()}
    chosen = []
    for pid, cands in groups.items():
        best = max(cands, key=lambda c: aggregate(scores[c["solution_id"]], how))
        vote = majority_vote([_normal(c["answer"]) for c in cands])
        vote_right = any(c["correct"] for c in cands if _normal(c["answer"]) == vote) if vote is not None else False
        chosen.append((best["correct"] and not vote_right, pid, best))
    if not chosen:
        return None
    _, pid, best = max(chosen, key=lambda t: t[0])
    sc = scores[best["solution_id"]]
    text = "\n".join(f"[{s:.2f}] {step}" for step, s in zip(best["steps"], sc, strict=True))
    return Example(f"{scorer} picks this candidate for test problem {pid} (step scores P(+))",
                   f"Question: {questions.get(pid, '')}\n{text}\ngold {best['gold']}; "
                   f"{'right' if best['correct'] else 'wrong'}",
                   example_html(questions.get(pid, ""), best["steps"], sc, best["correct"], best["gold"]))


def _sft_sentence(sft: list[dict], raft: dict | None) -> str:
    if not sft or "val_acc" not in sft[-1]:  # no SFT (a loaded policy with sft.steps=0)
        return ""
    text = (f"SFT stopped at greedy accuracy {sft[-1]['val_acc']:.0%} on {sft[-1]['val_problems']} held-out "
            "train problems")
    if raft and raft["prms"]:  # RAFT's iteration 0 is the SFT policy on the test problems
        text += f"; on the test problems it solves {next(iter(raft['prms'].values()))['greedy_acc'][0]:.0%}"
    return text + "."


def findings(bon: dict, raft: dict | None, sft: list[dict]) -> str:
    ns, m = bon["ns"], bon["methods"]
    last = len(ns) - 1

    def at(name: str) -> str:
        lo, hi = m[name]["ci95"][last]
        how = method_aggregate(bon, name)
        label = f"{name} (scored by its {how} step)" if how not in (bon["aggregate"], "-") else name
        return f"{label} {m[name]['acc'][last]:.3f} [{lo:.2f}, {hi:.2f}]"

    ers = _pick(list(m), "er")
    best_er = max(ers, key=lambda n: m[n]["acc"][last]) if ers else None
    parts = [_sft_sentence(sft, raft),
             f"At N={ns[-1]} (pass@N {m['pass@n']['acc'][last]:.3f}): " + "; ".join(
                 at(n) for n in [*ers, "soft", "hard", "orm", "majority"] if n in m) + "."]
    if best_er and "soft" in m and "hard" in m:
        wins = sum(m[best_er]["acc"][i] > max(m["soft"]["acc"][i], m["hard"]["acc"][i]) for i in range(len(ns)))
        seeds = m[best_er]["per_seed"][last]
        soft_seeds = m["soft"]["per_seed"][last]
        beat = sum(a > b for a, b in zip(seeds, soft_seeds, strict=True))
        parts.append(f"The best ER labelling ({best_er}) beats both soft and hard at {wins} of {len(ns)} values of N, "
                     f"and soft at N={ns[-1]} in {beat} of {len(seeds)} subsampling seeds; the intervals overlap "
                     "heavily at this scale, so this run does not establish the paper's gap either way.")
    top = max((n for n in m if n != "pass@n"), key=lambda n: m[n]["acc"][last])
    parts.append(f"The best method at N={ns[-1]} is {at(top)}.")
    if raft:
        parts.append("RAFT greedy accuracy by iteration: " + "; ".join(
            f"{n} " + " -> ".join(f"{a:.2f}" for a in v["greedy_acc"]) for n, v in raft["prms"].items()) + ".")
    return " ".join(p for p in parts if p)


def run_demo(root: Path, config: PipelineConfig | Path | str | None = None) -> DemoSection:
    """Run (or resume) the pipeline under ``root/run`` and summarise it."""
    root = Path(root)
    started = time.time()
    cfg = dataclasses.replace(_config(config), run_dir=str(root / "run"))
    run = run_pipeline(cfg)
    spent_path = root / "seconds.json"
    spent = json.loads(spent_path.read_text())["seconds"] if spent_path.exists() else 0.0
    spent += time.time() - started
    atomic_write_json(spent_path, {"seconds": spent})

    art = run / "artifacts"
    bon = json.loads((art / "bon.json").read_text())
    raft = json.loads((art / "raft.json").read_text()) if (art / "raft.json").exists() else None
    sft = json.loads((art / "sft.json").read_text()) if (art / "sft.json").exists() else []
    plot_bon(bon, root / "bon.png")  # redrawn from bon.json on every call: cheap, and always current
    tables = [bon_table(bon)] + ([raft_table(raft)] if raft else [])
    ers = _pick(list(bon["methods"]), "er")
    scorer = max(ers, key=lambda n: bon["methods"][n]["acc"][-1]) if ers else next(iter(bon["methods"]))
    example = pick_example(run, scorer, scorer_aggregate(cfg, scorer))
    section = DemoSection(
        system="prm", title="ER-PRM: entropy-regularized process reward models", paper_reports=PAPER,
        this_run_found=findings(bon, raft, sft), tables=tables,
        figures=[Figure("Best-of-N accuracy against N, per method (shaded: 95% bootstrap interval)",
                        str(root / "bon.png"))],
        examples=[example] if example else [], run_dirs=[str(run)], seeds=sorted({cfg.seed, *cfg.prm.seeds}),
        seconds=round(spent, 1))
    section.save(root / "section.json")
    return section
