"""Shared fixtures for the Python suites: where the laminar-connect binary is."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def laminar_connect() -> str:
    binary = os.environ.get("LAMINAR_CONNECT", str(ROOT / "build" / "release" / "bin" / "laminar-connect"))
    if not os.access(binary, os.X_OK):
        pytest.fail(f"laminar-connect not found at {binary}; build first or set LAMINAR_CONNECT")
    return binary
