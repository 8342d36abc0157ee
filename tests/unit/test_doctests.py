"""Every example in the library's docstrings runs and prints what it says (``>>>`` lines, as ``doctest`` reads them)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import explorer

MODULES = sorted(m.name for m in pkgutil.walk_packages(explorer.__path__, "explorer.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (run it for details)"


def test_the_examples_are_found():
    # a module list that came back empty, or docstrings that lost their examples, would pass the test above
    finder = doctest.DocTestFinder()
    found = sum(len(t.examples) for n in MODULES for t in finder.find(importlib.import_module(n)))
    assert len(MODULES) > 30 and found > 50
