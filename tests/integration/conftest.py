"""Fixtures shared by the image and pod tests (tests/integration/podman.py)."""

from __future__ import annotations

import pytest

from tests.integration.podman import build_images


@pytest.fixture(scope="session")
def specmon_images() -> tuple[str, str]:
    """(image, demo image), built once per test session."""
    return build_images()
