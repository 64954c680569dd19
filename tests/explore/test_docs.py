"""The Python example in docs/explore.md runs as written (doctest)."""

from __future__ import annotations

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "explore.md"


def test_the_api_example_in_the_explore_docs_runs_as_written():
    failures, tried = doctest.testfile(str(DOC), module_relative=False,
                                       optionflags=doctest.ELLIPSIS)
    assert tried >= 6 and failures == 0
