"""The docstring examples of quartet.refusal are run as tests (they document the formulas:
AP, ECE, risk–coverage, the entropy split, P(sure), answer matching)."""

import doctest
import importlib

import pytest

MODULES = ["metrics", "build", "certainty", "matching"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"quartet.refusal.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0, name
