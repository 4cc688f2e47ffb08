"""Every `quartet …` command in the README and docs/ parses against the real CLI.

Each line is parsed by the same argparse parser the command line uses, so a renamed verb,
a removed option or a misspelt flag in the documentation fails here. Commands whose
whole run takes minutes are exercised by the systems' own end-to-end tests.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from quartet.cli import SYSTEMS, build_parser

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"```(?:sh|bash|console)?\n(.*?)```", re.DOTALL)


def documented_commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for block in BLOCK.findall(doc.read_text(encoding="utf-8")):
            for line in block.replace("\\\n", " ").splitlines():  # join continued lines
                line = line.split(" # ")[0].strip().removeprefix("$ ")
                if re.match(r"quartet [a-z-]+( |$)", line):  # a command, not prose such as "quartet 3.2x"
                    found.append((doc.name, line))
    return found


COMMANDS = documented_commands()


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
