"""Compile the per-event modules (engine, JSON-events mapping) with mypyc, in place (``make native``).

The engine is plain, fully typed Python; mypyc turns these modules into C extensions
(native classes: attribute reads are struct fields, calls between engine methods are
C calls, counters are machine integers). Python imports an extension module before the
``.py`` beside it, so after this build ``monitor.engine`` runs compiled; without it
(no compiler, ``make clean``, a pure-Python install) the same sources run as they are.
``monitor.native.native_status()`` tells which, and a test fails if a source changed
after the build (a stale extension would silently run old code).

    python tools/native.py build_ext --inplace
"""

from __future__ import annotations

import sys
from pathlib import Path

from mypyc.build import mypycify
from setuptools import setup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.native import NATIVE_MODULES  # noqa: E402  (the list lives with the code)

if __name__ == "__main__":
    sources = [name.replace(".", "/") + ".py" for name in NATIVE_MODULES]
    setup(
        name="specmon-native",
        packages=[],
        py_modules=[],
        script_args=sys.argv[1:] or ["build_ext", "--inplace"],
        # other modules are imported, not compiled: check them loosely (follow silently)
        ext_modules=mypycify(["--ignore-missing-imports", "--follow-imports=silent",
                              *sources], group_name="monitor.engine.native", opt_level="3"),
    )
