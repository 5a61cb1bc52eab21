"""Shared fixtures for the Python suites: where the laminar-connect binary is, which
connectors it has, and the storage emulators (service_fixtures.py)."""
import os
import pathlib
import re
import subprocess

import pytest

from kafka_fixtures import kafka_broker, kafka_secure_broker, schema_registry  # noqa: F401  (fixtures)
from service_fixtures import azurite, gcs_server, s3_server  # noqa: F401  (fixtures)

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def laminar_connect() -> str:
    binary = os.environ.get("LAMINAR_CONNECT", str(ROOT / "build" / "release" / "bin" / "laminar-connect"))
    if not os.access(binary, os.X_OK):
        pytest.fail(f"laminar-connect not found at {binary}; build first or set LAMINAR_CONNECT")
    return binary


@pytest.fixture(scope="session")
def avro_tool() -> str:
    """The test-only Avro CLI (src/laminar/serde/avro/avro_tool): $AVRO_TOOL, else the first build dir holding it."""
    binary = os.environ.get("AVRO_TOOL")
    if not binary:
        found = sorted(ROOT.glob("build*/src/laminar/serde/avro/avro_tool")) + sorted(
            ROOT.glob("build*/*/src/laminar/serde/avro/avro_tool"))
        binary = str(found[0]) if found else ""
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("avro_tool not found; build the avro_tool target or set AVRO_TOOL")
    return binary


@pytest.fixture(scope="session")
def laminar_connectors(laminar_connect) -> set:
    """{("source", name), ("sink", name), ...} as `laminar-connect connectors` lists them."""
    result = subprocess.run([laminar_connect, "connectors"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {(m.group(1), m.group(2)) for m in re.finditer(r"^(source|sink) (\S+)", result.stdout, re.M)}
