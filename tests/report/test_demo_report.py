"""``quartet demo`` runs what is built, survives a failing system, and renders a safe report."""

from __future__ import annotations

import sys
import types

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from quartet.cli import main  # noqa: E402
from quartet.core.demo import DemoSection, Example, Figure, Table  # noqa: E402
from quartet.report import pipeline  # noqa: E402

HOSTILE = "<script>alert('x')</script>"


def _working_demo(root):
    root.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([1, 2, 4], [0.2, 0.5, 0.6])
    fig.savefig(root / "curve.png")
    plt.close(fig)
    return DemoSection(
        system="alpha", title="Alpha system", paper_reports="the paper: 0.70",
        this_run_found=f"this run: 0.61 {HOSTILE}",
        tables=[Table("accuracy", ["method", "acc"], [["ours", 0.612345], ["baseline", None]])],
        figures=[Figure("curve", str(root / "curve.png"))],
        examples=[Example("an input", f"text with {HOSTILE}")], run_dirs=[str(root)], seeds=[0],
    )


def _failing_demo(root):
    raise RuntimeError("disk on fire")


@pytest.fixture
def systems(monkeypatch):
    for name, fn in (("fake_alpha_demo", _working_demo), ("fake_beta_demo", _failing_demo)):
        module = types.ModuleType(name)
        module.run_demo = fn
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(pipeline, "DEMO_MODULES", {
        "alpha": "fake_alpha_demo", "beta": "fake_beta_demo", "gamma": "quartet.not_a_system.demo",
    })


def test_demo_runs_what_is_built_and_reports_the_rest(systems, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 1  # beta failed
    printed = capsys.readouterr().out
    assert "alpha        done" in printed and "beta         failed: RuntimeError: disk on fire" in printed
    assert "gamma        not built" in printed and "quartet serve --runs" in printed

    html = (out / "report.html").read_text()
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert "data:image/png;base64," in html and "0.612" in html and "—" in html
    assert "Not built yet" in html and "disk on fire" in html
    markdown = (out / "report.md").read_text()
    assert "| ours | 0.612 |" in markdown and "![curve](alpha/curve.png)" in markdown
    assert DemoSection.load(out / "alpha" / "section.json").tables[0].rows[0][1] == 0.612345


def test_render_only_uses_saved_sections(systems, tmp_path):
    out = tmp_path / "demo"
    main(["demo", "--out", str(out), "--systems", "alpha"])
    (out / "report.html").unlink()
    assert main(["demo", "--out", str(out), "--systems", "alpha", "--render-only"]) == 0
    assert "Alpha system" in (out / "report.html").read_text()


def test_unknown_system_is_a_clear_error(systems, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--systems", "alpha,omega"]) == 2
    assert "omega" in capsys.readouterr().err
