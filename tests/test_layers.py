"""The pure core stays pure, and the public API is what it says it is."""

from __future__ import annotations

import json
import subprocess
import sys

import monitor

PURE = ["monitor.spec", "monitor.engine", "monitor.mapping"]
IO_LIBRARIES = ["aiokafka", "aiohttp", "grpc", "opentelemetry", "prometheus_client", "asyncio",
                "socket", "urllib.request", "http.client", "multiprocessing"]


def test_the_pure_layers_import_no_io_library():
    code = (
        "import sys, json\n"
        + "".join(f"import {m}\n" for m in PURE)
        + "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                           capture_output=True, text=True).stdout))
    leaked = sorted(m for m in loaded if any(m == lib or m.startswith(lib + ".")
                                             for lib in IO_LIBRARIES))
    assert leaked == []


def test_the_public_api_is_pinned():
    assert monitor.__all__ == [
        "ConfigError", "MappingError", "RecordError", "SnapshotError", "Spec",
        "SpecDefinitionError", "SpecmonError", "action", "choose", "invariant", "require",
        "within",
    ]
    assert sorted(dir(monitor)) == sorted(monitor.__all__)
