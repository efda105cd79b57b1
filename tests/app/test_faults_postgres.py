"""PostgreSQL stopped and started again mid-study, on a throw-away cluster of its own (initdb
into a temp dir, a free loopback port) so the shared server other tests use is never touched:
requests get 503 problem+json during the outage, the driver retries with backoff, and the study
completes with nothing lost or counted twice. Skipped where PostgreSQL's binaries are absent."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.db import Database
from app.main import create_app
from app.migrate import upgrade
from app.models import Study, Trial, TrialResult
from tests.app.conftest import make_settings
from tests.app.helpers import free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
API = "/api/v1"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PgCluster:
    """A private PostgreSQL cluster in ``root`` on 127.0.0.1:``port`` (trust auth, user
    ``xbar``). As root it runs as the ``postgres`` user (PostgreSQL refuses root)."""

    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir, self.root, self.port = bindir, root, port
        self.data = root / "data"
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "xbar", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql+psycopg://xbar@127.0.0.1:{port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.prefix, str(self.bindir / tool), *args], check=True,
                       capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")


@pytest.fixture
def pg() -> Iterator[PgCluster]:
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    # not under pytest's tmp_path: the postgres user must be able to reach the directory
    root = Path(tempfile.mkdtemp(prefix="xbar-pgfault-"))
    try:
        try:
            cluster = PgCluster(bindir, root, free_port())
        except (subprocess.CalledProcessError, KeyError, LookupError, FileNotFoundError) as e:
            err = getattr(e, "stderr", b"") or b""
            pytest.skip(f"cannot create a private PostgreSQL cluster: {e} {err[-300:]!r}")
        cluster.start()
        try:
            yield cluster
        finally:
            try:
                cluster.stop("fast")
            except subprocess.CalledProcessError:
                pass
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_restart_mid_study(pg: PgCluster, engine) -> None:
    n = 30
    upgrade(pg.url)
    app = create_app(make_settings(pg.url, lease_s=60.0, driver_lease_s=2.0), engine=engine)
    body = {"name": "pg-outage", "problem": {"name": "zdt1"}, "optimizer": {"method": "random"},
            "budget": {"max_trials": n}, "parallelism": 2, "seed": 4}
    with TestClient(app) as client:
        sid = client.post(f"{API}/studies", json=body).json()["id"]
        wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["n_completed"] >= 5, 60, 0.05)
        pg.stop("immediate")  # a crash: connections drop, nothing is flushed politely
        r = client.get(f"{API}/studies/{sid}")
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 503 and "database" in r.json()["detail"].lower()
        t0 = time.monotonic()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("error")
        assert time.monotonic() - t0 < 5.0
        assert client.post(f"{API}/studies", json=body).status_code == 503  # nothing stored
        time.sleep(2.0)  # the driver keeps failing meanwhile, with backoff
        pg.start()
        wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] == "completed",
                 90, 0.2)
        driver = app.state.driver
        assert driver.errors >= 1, "the driver should have met the outage"
    db = Database(pg.url)
    try:
        with db.session() as s:
            numbers = list(s.scalars(select(Trial.number).where(Trial.study_id == sid)
                                     .order_by(Trial.number)))
            states = set(s.scalars(select(Trial.state).where(Trial.study_id == sid)))
            n_results = s.scalar(select(func.count()).select_from(TrialResult))
            study = s.get(Study, sid)
            n_studies = s.scalar(select(func.count()).select_from(Study))
    finally:
        db.dispose()
    assert numbers == list(range(n)) and states == {"completed"}
    assert n_results == n == study.n_completed and study.n_failed == 0
    assert n_studies == 1
