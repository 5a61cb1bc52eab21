"""Session fixtures for a real Apache Kafka broker and a Confluent-API schema registry,
started and stopped only through `scripts/services` (scripts/services.d/kafka.sh and
schema-registry.sh), each on a free loopback port with its scratch files under the
session's temporary directory, so a developer's own running services are never touched.

    kafka_broker     Kafka 3.9 KRaft broker   -> "127.0.0.1:<port>" (bootstrap.servers)
    kafka_secure_broker  its own broker with SASL and TLS listeners too -> SecureKafka
    schema_registry  Apicurio Registry        -> "http://127.0.0.1:<port>/apis/ccompat/v7"

The first use on a machine fetches the broker's jars and builds the registry with Maven
(cached under ~/.cache/laminar and ~/.m2); later sessions only start them.
"""
import dataclasses
import os
import pathlib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SERVICES = ROOT / "scripts" / "services"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Service:
    """One `scripts/services` service on a free port in a private scratch directory."""

    def __init__(self, name: str, port_variable: str, scratch: pathlib.Path):
        self.name = name
        self.port = _free_port()
        self.env = dict(os.environ, LAMINAR_SERVICES_DIR=str(scratch), **{port_variable: str(self.port)})

    def _run(self, command: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SERVICES), command, self.name], env=self.env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self, timeout: float = 1200) -> str:
        began = time.monotonic()
        result = self._run("start", timeout)
        if result.returncode != 0:
            pytest.fail(f"scripts/services start {self.name} failed ({result.returncode}):\n"
                        f"{result.stdout}\n{result.stderr}")
        print(f"\n{self.name} started in {time.monotonic() - began:.1f} s on port {self.port}")
        return result.stdout

    def stop(self) -> None:
        result = self._run("stop", 90)
        if result.returncode != 0:
            print(f"scripts/services stop {self.name} failed:\n{result.stdout}\n{result.stderr}")


def _announced(stdout: str, key: str) -> str:
    """The value of the `key=value` line a service prints when it is up."""
    for line in stdout.splitlines():
        if line.startswith(key + "="):
            return line.split("=", 1)[1].strip()
    pytest.fail(f"no {key}= line in the service's output:\n{stdout}")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory) -> str:
    """bootstrap.servers of a one-node Kafka 3.9 (KRaft) broker on 127.0.0.1."""
    service = _Service("kafka", "KAFKA_PORT", tmp_path_factory.mktemp("services-kafka"))
    out = service.start()
    try:
        yield _announced(out, "bootstrap.servers")
    finally:
        service.stop()


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory) -> str:
    """Base URL of the registry's Confluent-compatible API (append /subjects, /schemas/ids/N ...)."""
    service = _Service("schema-registry", "SCHEMA_REGISTRY_PORT", tmp_path_factory.mktemp("services-registry"))
    out = service.start()
    try:
        yield _announced(out, "schema.registry.url")
    finally:
        service.stop()


@dataclasses.dataclass
class SecureKafka:
    """A broker started with KAFKA_SECURITY=1 (scripts/services.d/kafka.sh): its PLAINTEXT
    listener for setting up topics, and listeners that need SASL or TLS."""
    bootstrap: str           # PLAINTEXT
    listeners: dict          # "sasl_plaintext", "ssl", "mtls", "sasl_ssl" -> "127.0.0.1:<port>"
    username: str            # one user for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
    password: str
    ca_location: str         # the test CA, which signed the broker's and the client's certificates
    certificate_location: str  # the client certificate the mtls listener requires
    key_location: str        # its key, encrypted with key_password
    key_password: str

    def security(self, listener: str, mechanism: str = None) -> dict:
        """librdkafka properties for a listener, which are also the connectors' option names
        (apart from sasl.mechanism, which librdkafka spells sasl.mechanisms but accepts too)."""
        protocol = "ssl" if listener == "mtls" else listener
        settings = {"bootstrap.servers": self.listeners[listener], "security.protocol": protocol}
        if protocol.startswith("sasl_"):
            settings.update({"sasl.mechanism": mechanism, "sasl.username": self.username,
                             "sasl.password": self.password})
        if protocol.endswith("ssl"):
            settings["ssl.ca.location"] = self.ca_location
        if listener == "mtls":
            settings.update({"ssl.certificate.location": self.certificate_location,
                             "ssl.key.location": self.key_location, "ssl.key.password": self.key_password})
        return settings


@pytest.fixture(scope="session")
def kafka_secure_broker(tmp_path_factory) -> SecureKafka:
    """A broker of its own (not kafka_broker's) with SASL_PLAINTEXT, SSL, mTLS and SASL_SSL
    listeners on 127.0.0.1, a fresh CA and a random password."""
    service = _Service("kafka", "KAFKA_PORT", tmp_path_factory.mktemp("services-kafka-secure"))
    service.env["KAFKA_SECURITY"] = "1"
    out = service.start()
    try:
        yield SecureKafka(
            bootstrap=_announced(out, "bootstrap.servers"),
            listeners={name: _announced(out, f"{name}.bootstrap.servers")
                       for name in ("sasl_plaintext", "ssl", "mtls", "sasl_ssl")},
            username=_announced(out, "sasl.username"), password=_announced(out, "sasl.password"),
            ca_location=_announced(out, "ssl.ca.location"),
            certificate_location=_announced(out, "ssl.certificate.location"),
            key_location=_announced(out, "ssl.key.location"), key_password=_announced(out, "ssl.key.password"))
    finally:
        service.stop()
