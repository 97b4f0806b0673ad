"""Store fixtures: every contract test runs against LocalStore and against S3Store on moto's S3 server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from t2ialign.store import LocalStore, ObjectStore

_buckets = itertools.count()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3-protocol server (moto in server mode) on loopback, on a free port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("T2IALIGN_S3_ACCESS_KEY", "testing")
    monkeypatch.setenv("T2IALIGN_S3_SECRET_KEY", "testing-secret")
    return "testing", "testing-secret"


def make_s3_store(endpoint: str) -> ObjectStore:
    from t2ialign.store.s3 import S3Store

    # A fresh bucket per test keeps tests independent on the shared server.
    bucket = f"t2ialign-test-{next(_buckets)}"
    return S3Store(bucket, endpoint=endpoint, access_key="testing", secret_key="testing-secret", secure=False)


@pytest.fixture
def s3_store(moto_endpoint: str) -> ObjectStore:
    return make_s3_store(moto_endpoint)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return make_s3_store(request.getfixturevalue("moto_endpoint"))
