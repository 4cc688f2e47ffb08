"""Every `quartet …` command in the README and docs/ parses against the real CLI, and every
README command runs.

Each documented line is parsed by the same argparse parser the command line uses, so a renamed
verb, a removed option or a misspelt flag in the documentation fails here. The README's commands
are then run one after another in a scratch folder, as a newcomer would type them: a line whose
config is a system's ``tiny.yaml`` runs on that system's ``test.yaml`` under the tiny config's run
name (so later lines find the run directories they name), and a line whose run is too long here
(the demo, the server, a benchmark) or whose inputs do not exist here (a model under /models, a
photo of yours) runs with ``--help`` instead.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

from quartet.cli import SYSTEMS, build_parser, main

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"```(?:sh|bash|console)?\n(.*?)```", re.DOTALL)
TINY = re.compile(r"configs/(\w+)/tiny\.yaml")
# Verbs that run for minutes or serve until stopped: --help only.
HELP_ONLY = {("demo",), ("serve",), ("lm", "serve"), ("lm", "bench"), ("denoise", "bench")}
# Options whose value must already exist for the line to run (its inputs); outputs may be new.
INPUT_OPTIONS = {"--run", "--model", "--prm", "--detector", "--lm", "--switch", "--graph", "--input", "--runs",
                 "--data"}


def commands_in(doc: Path) -> list[str]:
    found = []
    for block in BLOCK.findall(doc.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():  # join continued lines
            line = line.split(" # ")[0].strip().removeprefix("$ ")
            if re.match(r"quartet [a-z-]+( |$)", line):  # a command, not prose such as "quartet 3.2x"
                found.append(line)
    return found


COMMANDS = [(doc.name, line) for doc in DOCS for line in commands_in(doc)]


def test_the_readme_documents_commands():
    assert any(doc == "README.md" for doc, _ in COMMANDS)


@pytest.mark.parametrize("doc, line", COMMANDS, ids=[f"{d}:{c[:60]}" for d, c in COMMANDS])
def test_documented_command_parses(doc, line):
    argv = shlex.split(line)[1:]
    system = next((a for a in argv if not a.startswith("-")), None)
    assert system in SYSTEMS, f"{doc}: `{line}` names no quartet system"
    try:
        build_parser(system).parse_args(argv)
    except SystemExit as exit_:
        pytest.fail(f"{doc}: `{line}` does not parse (exit {exit_.code})")


def test_make_targets_in_the_readme_exist():
    makefile = (REPO / "Makefile").read_text()
    for target in re.findall(r"^make (\S+)", (REPO / "README.md").read_text(), re.MULTILINE):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target


def on_test_config(argv: list[str]) -> list[str]:
    """``configs/<system>/tiny.yaml`` -> that system's ``test.yaml``, under the tiny run's name
    (unless the line names its run itself), so later lines find the run directories they name."""
    out, name = [], None
    for arg in argv:
        match = TINY.fullmatch(arg)
        if match:
            name = yaml.safe_load((REPO / arg).read_text())["name"]
            arg = f"configs/{match.group(1)}/test.yaml"
        out.append(arg)
    if name is not None and not any(a.startswith("name=") for a in out):
        out.append(f"name={name}")
    return out


def inputs_exist(argv: list[str]) -> bool:
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag in INPUT_OPTIONS and not Path(value).exists():
            return False
    files = [a for a in argv if not a.startswith("-") and re.search(r"\.(png|jpe?g|jsonl|csv)$", a)]
    return all(Path(f).exists() for f in files[:1])  # the first file named is the input; -o names outputs


def test_readme_commands_run_in_order(tmp_path, monkeypatch, capsys):
    """The README, top to bottom, in a fresh folder: what can run here runs; the rest shows its help."""
    (tmp_path / "configs").symlink_to(REPO / "configs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QUARTET_RUNS", str(tmp_path / "runs"))
    ran, helped = [], []
    for line in commands_in(REPO / "README.md"):
        argv = on_test_config(shlex.split(line)[1:])
        verb = tuple(a for a in argv[:2] if not a.startswith("-"))
        if verb[:1] in HELP_ONLY or verb in HELP_ONLY or not inputs_exist(argv):
            with pytest.raises(SystemExit) as exit_:
                main([*argv, "--help"])
            assert exit_.value.code == 0, line
            assert "example" in capsys.readouterr().out, f"`{line} --help` shows no example"
            helped.append(line)
            continue
        assert main(argv) == 0, f"README command failed: {line} (ran as {' '.join(argv)})"
        ran.append(line)
    # The README's core promise: each system's pipeline and the LM core run from the README as written.
    for system in ("lm", "prm", "refusal", "infopattern", "denoise"):
        assert any(line.startswith(f"quartet {system} ") for line in ran), (system, ran, helped)
    assert os.listdir(tmp_path / "runs")
