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
    lines = ["Greedy test accuracy per RAFT iteration (iteration 0: the SFT policy).", "",
             "| PRM | " + " | ".join(f"it {t}" for t in range(iters)) + " |", "|---|" + "---|" * iters]
    for name, v in result["prms"].items():
        lines.append(f"| {name} | " + " | ".join(f"{a:.3f}" for a in v["greedy_acc"]) + " |")
    return "\n".join(lines) + "\n"
