"""docker-compose.yml verified without Docker: every service's command parses in its own CLI,
every variable it sets is one the app reads, only the API is published (on loopback, auth
on); and the same topology run as local processes (PostgreSQL, one-shot migrate, `dask
scheduler`, two `xbar worker`s, the API) completes a study."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
import yaml

from app.cli.main import app as xbar_cli
from app.core.config import Settings
from tests.app.helpers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OURS = {name: svc for name, svc in SERVICES.items() if svc.get("build") == "."}


def _parse(argv: list[str]) -> None:
    """Parse ``argv`` with the CLI it names, without running it (raises on a bad option)."""
    prog, *args = argv
    if prog == "xbar":
        cmd = typer.main.get_command(xbar_cli)
        while args and hasattr(cmd, "commands") and args[0] in cmd.commands:
            cmd = cmd.commands[args.pop(0)]
        assert not hasattr(cmd, "commands"), f"{argv}: no such xbar command"
        cmd.make_context(prog, args)
    elif argv[:2] == ["dask", "scheduler"]:
        from distributed.cli.dask_scheduler import main

        main.make_context("dask scheduler", args[1:])
    elif prog == "alembic":
        from alembic.config import CommandLine

        ns = CommandLine().parser.parse_args(args)
        assert ns.cmd[0].__name__ == args[0]
    else:
        raise AssertionError(f"unknown program in docker-compose.yml: {argv}")


@pytest.mark.parametrize("name", sorted(OURS))
def test_service_command_exists(name: str) -> None:
    _parse(shlex.split(OURS[name]["command"]))


def test_service_environment_is_read_by_the_app() -> None:
    read = {f"XBAR_{f.upper()}" for f in Settings.model_fields}
    for name, svc in OURS.items():
        env = svc.get("environment") or {}
        unknown = set(env) - read
        assert not unknown, f"{name} sets variables the app never reads: {unknown}"
        Settings(**{k[5:].lower(): v for k, v in env.items()})  # and valid values


def test_only_the_api_is_published_on_loopback_with_auth() -> None:
    published = {name: svc["ports"] for name, svc in SERVICES.items() if svc.get("ports")}
    assert published == {"api": ["127.0.0.1:8000:8000"]}
    assert OURS["api"]["environment"]["XBAR_AUTH"] == "on"
    assert "--no-dashboard" in OURS["scheduler"]["command"]


def _local(cmd: str, pg_url: str, port: int, sched_port: int) -> list[str]:
    """A compose command for local processes: service names and 0.0.0.0 become loopback."""
    cmd = (cmd.replace("tcp://scheduler:8786", f"tcp://127.0.0.1:{sched_port}")
           .replace("--port 8786", f"--port {sched_port}").replace("0.0.0.0", "127.0.0.1"))
    argv = shlex.split(cmd)
    exe = {"xbar": [sys.executable, "-m", "app.cli.main"],
           "dask": [sys.executable, "-m", "distributed.cli.dask_scheduler"],
           "alembic": [sys.executable, "-m", "alembic"]}[argv[0]]
    rest = argv[2:] if argv[:2] == ["dask", "scheduler"] else argv[1:]
    if argv[:2] == ["xbar", "serve"]:
        rest += ["--port", str(port)]
    return exe + rest


@pytest.fixture
def pg_url() -> Iterator[str]:
    from tests.conftest import _postgres_db

    yield from _postgres_db()


@pytest.mark.slow
@pytest.mark.postgres
def test_compose_topology_as_local_processes(pg_url: str) -> None:
    """postgres -> scheduler -> 2 workers, and migrate (one shot, exit 0) meanwhile -> API (auth
    on): a branin-currin study of 8 zero-cost trials completes, run by the external workers."""
    port, sched_port = free_port(), free_port()
    env = {**os.environ}
    for k, v in OURS["api"]["environment"].items():
        env[k] = v
    env.update(XBAR_DATABASE_URL=pg_url, XBAR_DASK_SCHEDULER=f"tcp://127.0.0.1:{sched_port}",
               XBAR_DASK_HOST="127.0.0.1")

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen(_local(OURS[name]["command"], pg_url, port, sched_port),
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    # as compose does: the scheduler and workers do not wait for the migration, the API does
    procs = [start("scheduler"), start("worker"), start("worker")]
    url = f"http://127.0.0.1:{port}"
    try:
        migrate = subprocess.run(_local(OURS["migrate"]["command"], pg_url, port, sched_port),
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert migrate.returncode == 0, migrate.stderr
        key = subprocess.run([sys.executable, "-m", "app.cli.main", "keys", "create", "e2e"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert key.returncode == 0, key.stderr
        headers = {"Authorization": f"Bearer {key.stdout.strip()}"}
        procs.append(start("api"))

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=2).json()["checks"]["engine"] == \
                    "ok (2 workers)"
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        wait_for(ready, 90, 0.2)
        body = {"name": "compose", "problem": {"name": "branin-currin"},
                "optimizer": {"method": "random"}, "budget": {"max_trials": 8},
                "parallelism": 4, "seed": 2}
        assert httpx.post(f"{url}/api/v1/studies", json=body).status_code == 401
        r = httpx.post(f"{url}/api/v1/studies", json=body, headers=headers)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        t0 = time.monotonic()
        while (s := httpx.get(f"{url}/api/v1/studies/{sid}", headers=headers).json())[
                "state"] != "completed":
            assert s["state"] in ("created", "running") and time.monotonic() - t0 < 90, s
            time.sleep(0.2)
        trials = httpx.get(f"{url}/api/v1/studies/{sid}/trials", headers=headers,
                           params={"limit": 100}).json()["data"]
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{sched_port}", timeout=5, set_as_default=False) as c:
            workers = set(c.scheduler_info(n_workers=-1)["workers"])
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
    assert s["n_completed"] == 8 and s["n_failed"] == 0
    assert [t["number"] for t in trials] == list(range(8))
    assert all(t["state"] == "completed" for t in trials)
    assert len(workers) == 2 and {t["worker"] for t in trials} <= workers  # ran outside the API
