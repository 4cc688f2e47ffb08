"""Markdown tables and plots of best-of-N and RAFT results."""

from __future__ import annotations

from pathlib import Path


def method_aggregate(result: dict, name: str) -> str:
    """How ``name`` in a ``bon.json`` aggregated step scores: its scorer's aggregation for a scorer
    and its weighted vote, "-" for majority vote and pass@N, which read no scores.

    >>> r = {"aggregate": "min", "aggregates": {"er2": "min", "orm": "last"}}
    >>> [method_aggregate(r, n) for n in ("er2", "weighted_orm", "majority")]
    ['min', 'last', '-']
    """
    scorer = name.removeprefix("weighted_")
    return result.get("aggregates", {}).get(scorer, "-")


def aggregation_note(result: dict) -> str:
    """One sentence on the aggregations of a ``bon.json`` (the ORM is read at its final tag)."""
    # the PRMs' aggregation first, then the others (the ORM's)
    kinds = sorted(set(result.get("aggregates", {}).values()), key=lambda h: (h != result["aggregate"], h))
    if len(kinds) <= 1:
        return f"aggregation `{kinds[0] if kinds else result['aggregate']}`"
    parts = [f"`{how}` for {', '.join(s for s, h in result['aggregates'].items() if h == how)}" for how in kinds]
    return "step scores aggregated by " + "; ".join(parts) + " (the ORM is trained on its final tag only)"


def bon_markdown(result: dict) -> str:
    """One row per method, one column per N: mean accuracy over seeds [95% CI]; the aggregation
    of each method's step scores in its own column."""
    ns = result["ns"]
    lines = [f"Best-of-N accuracy on {result['n_problems']} test problems, mean over seeds {result['seeds']}, "
             f"{aggregation_note(result)}, 95% bootstrap interval over problems.", "",
             "| method | aggregation | " + " | ".join(f"N={n}" for n in ns) + " |", "|---|---|" + "---|" * len(ns)]
    for name, m in result["methods"].items():
        cells = [f"{a:.3f} [{lo:.2f}, {hi:.2f}]" for a, (lo, hi) in zip(m["acc"], m["ci95"], strict=True)]
        lines.append(f"| {name} | {method_aggregate(result, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_bon(result: dict, path: Path) -> None:
    """Accuracy against N: left, best-of-N by each scorer; right, PRM-weighted votes. Majority
    vote and pass@N (dashed) on both, with the 95% intervals shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = result["methods"]
    common = [n for n in ("majority", "pass@n") if n in methods]
    panels = [("best-of-N by score", [n for n in methods if not n.startswith("weighted_") and n not in common]),
              ("PRM-weighted majority vote", [n for n in methods if n.startswith("weighted_")])]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, (title, names) in zip(axes, panels, strict=True):
        for name in names + common:
            m = methods[name]
            line, = ax.plot(result["ns"], m["acc"], "--" if name in common else "-", marker="o", markersize=3,
                            label=name.removeprefix("weighted_"))
            ax.fill_between(result["ns"], [c[0] for c in m["ci95"]], [c[1] for c in m["ci95"]], alpha=0.08,
                            color=line.get_color())
        ax.set_xscale("log", base=2)
        ax.set_xlabel("N (candidates)")
        ax.set_title(title)
        ax.legend(fontsize=7, ncol=2)
    axes[0].set_ylabel("accuracy")
    fig.suptitle("PRMs trained on hard / soft / ER labels, and the ORM")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def raft_markdown(result: dict) -> str:
    iters = max((len(v["greedy_acc"]) for v in result["prms"].values()), default=0)
    lines = ["Greedy test accuracy per RAFT iteration (iteration 0: the SFT policy); each iteration keeps the "
             "sample the PRM scores best, by the aggregation shown.", "",
             "| PRM | aggregation | " + " | ".join(f"it {t}" for t in range(iters)) + " |",
             "|---|---|" + "---|" * iters]
    for name, v in result["prms"].items():
        lines.append(f"| {name} | {v.get('aggregate', '-')} | " + " | ".join(f"{a:.3f}" for a in v["greedy_acc"])
                     + " |")
    return "\n".join(lines) + "\n"
