"""Shared fixtures: database URLs for every backend the service supports."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ADMIN_URL = os.environ.get("XBAR_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("XBAR_REQUIRE_POSTGRES") == "1"


def _postgres_db() -> Iterator[str]:
    if not POSTGRES_ADMIN_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("XBAR_REQUIRE_POSTGRES=1 but XBAR_TEST_POSTGRES_URL is not set")
        pytest.skip("set XBAR_TEST_POSTGRES_URL to run the PostgreSQL backend")
    name = f"xbar_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty, migrated-to-nothing database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'xbar.db'}"
    else:
        yield from _postgres_db()


@pytest.fixture(scope="session", autouse=True)
def model_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One fresh ``XBAR_CACHE_DIR`` for the whole run: trained workload models are built once
    per test session and never read from (or written to) the user's cache."""
    path = str(tmp_path_factory.mktemp("xbar-model-cache"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XBAR_CACHE_DIR", path)
        yield path


@pytest.fixture(scope="session", autouse=True)
def no_fused_logei_compile() -> None:
    """BoTorch's qLog(N)EHVI JIT-compiles an optional fused C++ kernel on first use when a
    compiler is present (~48 s of CPU on a fresh machine, once per run on CI); the deployed image
    has no compiler and runs the pure-PyTorch path, so the tests run that path too."""
    from botorch.acquisition.multi_objective import logei

    logei._load_attempted = True
