"""Session fixtures for the storage emulators, started and stopped only through
`scripts/services` (scripts/services.d/<name>.sh), each on a free loopback port with its
scratch files under the session's temporary directory, so a developer's own running
services are never touched.

    s3_server   moto's S3 server     -> S3Endpoint
    azurite     Azurite blob service -> AzuriteEndpoint
    gcs_server  fake-gcs-server      -> GcsEndpoint (first use builds it with `go install`)

Each endpoint knows its pyarrow filesystem and the `storage.*` options a laminar-connect
sink or source is given for it.
"""
import dataclasses
import os
import pathlib
import socket
import subprocess
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SERVICES = ROOT / "scripts" / "services"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """One `scripts/services` service in a private scratch directory."""

    def __init__(self, name: str, port_variable: str, scratch: pathlib.Path):
        self.name = name
        self.port = free_port()
        self.env = dict(os.environ, LAMINAR_SERVICES_DIR=str(scratch), **{port_variable: str(self.port)})
        self.started_in = None  # seconds, for reports

    def _run(self, command: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SERVICES), command, self.name], env=self.env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self, timeout: float = 900) -> str:
        began = time.monotonic()
        result = self._run("start", timeout)
        if result.returncode != 0:
            pytest.fail(f"scripts/services start {self.name} failed ({result.returncode}):\n"
                        f"{result.stdout}\n{result.stderr}")
        self.started_in = time.monotonic() - began
        return result.stdout

    def stop(self) -> None:
        result = self._run("stop", 60)
        if result.returncode != 0:
            print(f"scripts/services stop {self.name} failed:\n{result.stdout}\n{result.stderr}")


@dataclasses.dataclass
class S3Endpoint:
    host: str
    port: int
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def filesystem(self):
        from pyarrow import fs
        return fs.S3FileSystem(endpoint_override=f"{self.host}:{self.port}", scheme="http",
                               access_key=self.access_key, secret_key=self.secret_key, region=self.region,
                               allow_bucket_creation=True, allow_bucket_deletion=True)

    def new_bucket(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.filesystem().create_dir(name)
        return name

    def storage_options(self) -> dict:
        """The sink/source options of spec 30 §4 (written as 'storage.<key>')."""
        return {"aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key,
                "aws_region": self.region, "aws_endpoint": self.endpoint_url}

    def deltalake_options(self) -> dict:
        """storage_options for the deltalake (delta-rs) package."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": self.region, "AWS_ALLOW_HTTP": "true",
                "aws_conditional_put": "etag"}


AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclasses.dataclass
class AzuriteEndpoint:
    host: str
    port: int
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY

    @property
    def blob_url(self) -> str:
        return f"http://{self.host}:{self.port}/{self.account}"

    def filesystem(self):
        from pyarrow import fs
        authority = f"{self.host}:{self.port}"
        return fs.AzureFileSystem(account_name=self.account, account_key=self.key,
                                  blob_storage_authority=authority, dfs_storage_authority=authority,
                                  blob_storage_scheme="http", dfs_storage_scheme="http")

    def new_container(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.filesystem().create_dir(name)
        return name

    def storage_options(self) -> dict:
        # The endpoint is scheme://host:port only (src/laminar/storage reads its authority);
        # delta-rs (object_store) wants the account path too: deltalake_options below.
        return {"azure_storage_account_name": self.account, "azure_storage_account_key": self.key,
                "azure_storage_endpoint": f"http://{self.host}:{self.port}"}

    def deltalake_options(self) -> dict:
        return {"account_name": self.account, "account_key": self.key, "azure_storage_endpoint": self.blob_url,
                "allow_http": "true"}


@dataclasses.dataclass
class GcsEndpoint:
    host: str
    port: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def filesystem(self):
        import datetime
        from pyarrow import fs
        return fs.GcsFileSystem(anonymous=True, scheme="http", endpoint_override=f"{self.host}:{self.port}",
                                project_id="laminar-test", retry_time_limit=datetime.timedelta(seconds=10))

    def new_bucket(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.filesystem().create_dir(name)
        return name

    def storage_options(self) -> dict:
        # Anonymous: the emulator takes unauthenticated requests, and default credentials
        # would ask the cloud metadata address for a token (nothing may leave the loopback).
        return {"google_endpoint": self.endpoint_url, "google_anonymous": "true"}

    # No deltalake_options: delta-rs 1.6.6 fetches a token from the cloud metadata address even
    # against an emulator, and no traffic may leave the loopback here. Copy the table to a
    # local directory (pyarrow.fs.copy_files) and read it there instead.


def _service_fixture(tmp_path_factory, name, port_variable):
    service = Service(name, port_variable, tmp_path_factory.mktemp(f"services-{name}"))
    service.start()
    print(f"\n{name} started in {service.started_in:.2f} s on port {service.port}")
    return service


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    service = _service_fixture(tmp_path_factory, "s3", "S3_PORT")
    try:
        yield S3Endpoint("127.0.0.1", service.port)
    finally:
        service.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    service = _service_fixture(tmp_path_factory, "azurite", "AZURITE_PORT")
    try:
        yield AzuriteEndpoint("127.0.0.1", service.port)
    finally:
        service.stop()


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory):
    service = _service_fixture(tmp_path_factory, "gcs", "GCS_PORT")
    try:
        yield GcsEndpoint("127.0.0.1", service.port)
    finally:
        service.stop()
