"""The docstring examples of quartet.prm are run as tests (they document the formulas)."""

import doctest
import importlib

import pytest

MODULES = ["answers", "best_of_n", "data", "demo", "formats", "labels", "prm_model", "processbench", "rollout"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"quartet.prm.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0, name
