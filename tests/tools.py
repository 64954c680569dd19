"""External tools the tests use (Debian's prometheus package: prometheus, promtool).
Outside CI a missing tool skips the test; in CI (``CI=true``) it fails it, because
.ci/run installs them and a skip there would hide a broken install step."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = (f"{name} is not installed (Debian: apt-get install -y prometheus; "
                   ".ci/run installs it)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
