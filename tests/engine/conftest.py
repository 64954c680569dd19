"""Fixtures of the engine tests: the payment example spec, loaded from its file the way
a spec directory is (it is not an importable module)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_MODULE = "specmon_tests_payment_spec"


def load_payment() -> type:
    if _MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(_MODULE, ROOT / "specs/payment/spec.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[_MODULE].Payment


@pytest.fixture(scope="session")
def Payment() -> type:  # noqa: N802 - named like the class it is
    return load_payment()
