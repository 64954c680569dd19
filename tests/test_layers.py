"""The pure core stays pure, and the public API is what it says it is.

Each pure layer is imported alone in a fresh interpreter; the modules it loaded must
include no I/O library. ``urllib.parse`` is allowed: it is string handling that the
interpreter's own start-up (``site`` -> ``pathlib``) loads before any of our code, so
for ``urllib`` only the network modules count.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

import monitor

PURE_LAYERS = ["monitor.spec", "monitor.engine", "monitor.mapping", "monitor.explore"]
IO_PACKAGES = ["aiokafka", "aiohttp", "grpc", "opentelemetry", "prometheus_client", "asyncio",
               "socket", "http", "urllib.request", "urllib.error", "urllib.response",
               "urllib.robotparser", "ssl", "selectors", "multiprocessing", "monitor.sources",
               "monitor.sinks", "monitor.cli", "monitor.runner"]

_PROBE = """
import importlib, json, sys
before = set(sys.modules)
importlib.import_module(sys.argv[1])
print(json.dumps({"loaded": sorted(sys.modules), "new": sorted(set(sys.modules) - before)}))
"""


def modules_loaded_by(layer: str) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", _PROBE, layer], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, f"importing {layer} failed:\n{done.stderr}"
    return json.loads(done.stdout)


def is_io(module: str) -> bool:
    return any(module == pkg or module.startswith(pkg + ".") for pkg in IO_PACKAGES)


@pytest.mark.parametrize("layer", PURE_LAYERS)
def test_a_pure_layer_imports_no_io_library(layer):
    if importlib.util.find_spec(layer) is None:
        pytest.skip(f"{layer} does not exist yet")
    found = modules_loaded_by(layer)
    assert layer in found["new"]
    assert [m for m in found["loaded"] if is_io(m)] == []


def test_the_probe_would_see_an_io_import():
    found = modules_loaded_by("asyncio")
    assert "asyncio" in found["new"] and any(is_io(m) for m in found["loaded"])


def test_the_public_api_is_pinned():
    assert monitor.__all__ == [
        "ConfigError", "MappingError", "RecordError", "SnapshotError", "Spec",
        "SpecDefinitionError", "SpecmonError", "action", "check_trace", "choose", "explore",
        "invariant", "require", "within",
    ]
    assert dir(monitor) == monitor.__all__
    for name in monitor.__all__:
        assert getattr(monitor, name) is not None


def test_every_exception_specmon_raises_on_purpose_derives_from_the_root():
    for name in ("ConfigError", "MappingError", "RecordError", "SnapshotError",
                 "SpecDefinitionError"):
        assert issubclass(getattr(monitor, name), monitor.SpecmonError)
    assert issubclass(monitor.MappingError, monitor.ConfigError)
