"""Fixtures for the service: a migrated database, a Dask engine, an app with its driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database
from app.execution.engine import DaskEngine
from app.main import create_app
from app.migrate import upgrade


@pytest.fixture(scope="session")
def engine() -> Iterator[DaskEngine]:
    """One in-process Dask cluster (2 thread workers) for the whole session."""
    eng = DaskEngine(None, n_workers=2, processes=False)
    yield eng
    eng.close()


@pytest.fixture
def migrated_url(db_url: str) -> str:
    upgrade(db_url)
    return db_url


@pytest.fixture
def database(migrated_url: str) -> Iterator[Database]:
    db = Database(migrated_url)
    yield db
    db.dispose()


def make_settings(url: str, **kw) -> Settings:
    base = {"database_url": url, "poll_interval_s": 0.05, "lease_s": 5.0, "driver_lease_s": 2.0}
    base.update(kw)
    return Settings(**base)


@pytest.fixture
def client(migrated_url: str, engine: DaskEngine) -> Iterator[TestClient]:
    """The API with a running driver, open auth."""
    app = create_app(make_settings(migrated_url), engine=engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def idle_client(migrated_url: str) -> Iterator[TestClient]:
    """The API without a driver: studies stay as created (for pure API tests)."""
    app = create_app(make_settings(migrated_url, run_driver=False))
    with TestClient(app) as c:
        yield c


BRANIN = {
    "name": "bc",
    "problem": {"name": "branin-currin"},
    "optimizer": {"method": "sobol"},
    "budget": {"max_trials": 8},
    "parallelism": 2,
    "seed": 3,
}
