"""End to end: `xbar serve` in a subprocess with a real LocalCluster of worker processes, the
CLI against it, as a user would run it (the README's acceptance path)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from app.cli.main import app as cli
from tests.app.helpers import free_port

pytestmark = pytest.mark.slow



def _start(db: Path, port: int, **env_extra: str) -> subprocess.Popen:
    env = {**os.environ, "XBAR_DATABASE_URL": f"sqlite:///{db}", "XBAR_PORT": str(port),
           "XBAR_DASK_WORKERS": "2", "XBAR_AUTH": "off", **env_extra}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() - t0 > 120:
            proc.kill()
            raise RuntimeError("server did not start:\n" + (proc.stdout.read() or ""))
        time.sleep(0.1)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One `xbar serve` shared by the tests that only create their own studies."""
    port = free_port()
    proc = _start(tmp_path_factory.mktemp("serve") / "xbar.db", port)
    yield f"http://127.0.0.1:{port}"
    _stop(proc)


def test_killed_server_resumes_study(tmp_path: Path) -> None:
    """SIGKILL `xbar serve` mid-study, start it again on the same database: the study resumes
    and completes with every trial number 0..N-1 completed exactly once."""
    port, db, n = free_port(), tmp_path / "xbar.db", 40
    fast = {"XBAR_LEASE_S": "2", "XBAR_DRIVER_LEASE_S": "2"}
    proc = _start(db, port, **fast)
    url = f"http://127.0.0.1:{port}/api/v1"
    body = {"name": "crash", "problem": {"name": "zdt1"}, "optimizer": {"method": "random"},
            "budget": {"max_trials": n}, "parallelism": 2}
    sid = httpx.post(f"{url}/studies", json=body).json()["id"]
    t0 = time.monotonic()
    while httpx.get(f"{url}/studies/{sid}").json()["n_completed"] < 5:
        assert time.monotonic() - t0 < 60
        time.sleep(0.05)
    proc.kill()
    proc.wait(10)
    with closing(sqlite3.connect(db)) as conn:  # killed mid-study, trials left to resume
        (done_at_kill,) = conn.execute("SELECT count(*) FROM trials WHERE study_id = ? AND "
                                       "state = 'completed'", (sid,)).fetchone()
    assert 5 <= done_at_kill < n
    with pytest.raises(httpx.HTTPError):  # the server is gone until the restart
        httpx.get(f"{url}/studies/{sid}", timeout=1)
    proc = _start(db, port, **fast)
    try:
        t0 = time.monotonic()
        while (s := httpx.get(f"{url}/studies/{sid}").json())["state"] != "completed":
            assert s["state"] == "running" and time.monotonic() - t0 < 120, s
            time.sleep(0.3)
        trials = httpx.get(f"{url}/studies/{sid}/trials", params={"limit": 500}).json()["data"]
    finally:
        _stop(proc)
    assert [t["number"] for t in trials] == list(range(n))
    assert all(t["state"] == "completed" for t in trials)
    assert s["n_completed"] == n and s["n_failed"] == 0


def test_branin_currin_study_via_rest_and_cli(server: str, tmp_path: Path) -> None:
    """20 trials, parallelism 2: completes; the front has points and a hypervolume; its ETag
    gives 304; `xbar study show/export` read it back."""
    body = {"name": "acceptance", "problem": {"name": "branin-currin"},
            "optimizer": {"method": "sobol"}, "budget": {"max_trials": 20}, "parallelism": 2}
    r = httpx.post(f"{server}/api/v1/studies", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    t0 = time.monotonic()
    while (s := httpx.get(f"{server}/api/v1/studies/{sid}").json())["state"] != "completed":
        assert s["state"] in ("created", "running"), s
        assert time.monotonic() - t0 < 180
        time.sleep(0.2)
    assert s["n_completed"] == 20
    p = httpx.get(f"{server}/api/v1/studies/{sid}/pareto")
    assert p.status_code == 200 and p.json()["points"] and p.json()["hypervolume"] > 0
    assert httpx.get(f"{server}/api/v1/studies/{sid}/pareto",
                     headers={"If-None-Match": p.headers["etag"]}).status_code == 304
    workers = {t["worker"] for t in
               httpx.get(f"{server}/api/v1/studies/{sid}/trials").json()["data"]}
    assert all(w for w in workers)

    runner = CliRunner()
    out = runner.invoke(cli, ["study", "show", str(sid), "--url", server, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["study"]["n_completed"] == 20
    csv_path = tmp_path / "t.csv"
    out = runner.invoke(cli, ["study", "export", str(sid), "--url", server, "--format", "csv",
                              "-o", str(csv_path)])
    assert out.exit_code == 0, out.output
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 21 and "value." in lines[0]
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({**body, "name": "from-cli", "budget": {"max_trials": 4}}))
    out = runner.invoke(cli, ["study", "create", str(f), "--url", server, "--watch"])
    assert out.exit_code == 0, out.output
    assert "created study" in out.stdout
    f.write_text(yaml.safe_dump({**body, "budget": {"max_trials": -1}}))
    out = runner.invoke(cli, ["study", "create", str(f), "--url", server])
    assert out.exit_code == 2 and "budget.max_trials" in out.output


def test_sweep_gates_against_server(server: str, tmp_path: Path) -> None:
    """`xbar sweep` runs a study to completion; passing gates exit 0 with a JUnit file, a failing
    gate exits 1 and is a <failure> in the XML."""
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump({
        "name": "ci-sweep", "problem": {"name": "zdt1"}, "optimizer": {"method": "sobol"},
        "budget": {"max_trials": 6}, "parallelism": 2, "gates": ["front_size >= 1"]}))
    runner = CliRunner()
    junit = tmp_path / "ok.xml"
    r = runner.invoke(cli, ["sweep", str(f), "--url", server, "--gate", "n_completed>=6",
                            "--junit", str(junit), "--json", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    assert 'failures="0"' in junit.read_text()
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is True
    bad = tmp_path / "bad.xml"
    r = runner.invoke(cli, ["sweep", str(f), "--url", server, "--gate", "n_completed>=1000",
                            "--junit", str(bad)])
    assert r.exit_code == 1
    assert 'failures="1"' in bad.read_text() and "n_completed" in bad.read_text()
