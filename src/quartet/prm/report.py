"""Markdown tables and plots of best-of-N and RAFT results."""

from __future__ import annotations

from pathlib import Path


def bon_markdown(result: dict) -> str:
    """One row per method, one column per N: mean accuracy over seeds [95% CI]."""
    ns = result["ns"]
    lines = [f"Best-of-N accuracy on {result['n_problems']} test problems, mean over seeds {result['seeds']}, "
             f"aggregation `{result['aggregate']}`, 95% bootstrap interval over problems.", "",
             "| method | " + " | ".join(f"N={n}" for n in ns) + " |", "|---|" + "---|" * len(ns)]
    for name, m in result["methods"].items():
        cells = [f"{a:.3f} [{lo:.2f}, {hi:.2f}]" for a, (lo, hi) in zip(m["acc"], m["ci95"], strict=True)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_bon(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, m in result["methods"].items():
        if name.startswith("weighted_"):
            continue  # keeps the figure readable; the table has them
        style = "--" if name in ("majority", "pass@n") else "-"
        ax.plot(result["ns"], m["acc"], style, marker="o", markersize=3, label=name)
        lo = [c[0] for c in m["ci95"]]
        hi = [c[1] for c in m["ci95"]]
        ax.fill_between(result["ns"], lo, hi, alpha=0.08)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (candidates)")
    ax.set_ylabel("accuracy")
    ax.set_title("Best-of-N with PRMs trained on hard / soft / ER labels")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def raft_markdown(result: dict) -> str:
    iters = max((len(v["greedy_acc"]) for v in result["prms"].values()), default=0)
    lines = ["Greedy test accuracy per RAFT iteration (iteration 0: the SFT policy).", "",
             "| PRM | " + " | ".join(f"it {t}" for t in range(iters)) + " |", "|---|" + "---|" * iters]
    for name, v in result["prms"].items():
        lines.append(f"| {name} | " + " | ".join(f"{a:.3f}" for a in v["greedy_acc"]) + " |")
    return "\n".join(lines) + "\n"
