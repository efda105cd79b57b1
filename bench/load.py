"""API load benchmark: concurrent clients on a study of many trials while it keeps running.

Per backend: a fresh database (``bench.scale.fresh_database``), ``xbar serve`` as a
subprocess on 127.0.0.1 (the default LocalCluster of worker processes, driver steps every
20 ms) and a ``random`` branin-currin study at parallelism 64 whose budget reaches well
beyond ``--trials``. Once ``--trials`` trials are completed, each endpoint in turn gets
``--clients`` concurrent keep-alive clients (httpx, one asyncio loop) for ``--seconds``:
``/healthz`` (the baseline, in the same run), ``GET /studies/{id}``, ``GET
/studies/{id}/pareto`` and trials pages (each client walks ``GET /studies/{id}/trials``
page by page along ``next_cursor``, from the start again at the end). The study keeps
completing trials meanwhile; how many is counted per phase. Reported per endpoint:
requests, throughput, latency percentiles [ms], status counts, 5xx and bodies that say
"database is locked"; per run, the server log's lines saying "database is locked" and the
``ERROR`` lines (counted, and the first few quoted with the lines after them).

Two topologies, on the same study one after the other (``--topologies``): ``combined``, the
default ``xbar serve`` (API, driver and Dask client in one process, so requests share its GIL
with the driver), and ``split``, an API-only ``xbar serve`` (``XBAR_RUN_DRIVER=false``) that
the clients load, beside a second ``xbar serve`` that runs the driver and its LocalCluster and
gets no requests (studies go to whichever driver holds their ownership lease). The study is
filled by the first topology; switching stops its servers cleanly (the driver hands the study
and its in-flight trials back) and starts the next.

Run: ``nice -n 10 .venv/bin/python -m bench.load --trials 10000 --backends sqlite pg``
-> ``bench/results/load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.scale import PARALLELISM, fresh_database, study_definition

RESULTS = Path(__file__).parent / "results"
API = "/api/v1"
LOCKED = "database is locked"
ENDPOINTS = ("healthz", "study", "pareto", "trials_page")
MAX_TRIALS = 100_000
"""The study's budget (the API's largest): the study keeps completing trials while loaded."""
STARTUP_S = 300.0
"""Bound on the server's start (imports, a LocalCluster of worker processes) [s]."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TOPOLOGIES = ("combined", "split")


def start_server(url: str, port: int, log_path: Path, workers: int,
                 run_driver: bool = True) -> subprocess.Popen[bytes]:
    """``xbar serve`` on 127.0.0.1:``port`` against the migrated database ``url``; with
    ``run_driver=False`` an API-only server (no driver, no Dask cluster)."""
    env = {**os.environ, "XBAR_DATABASE_URL": url, "XBAR_HOST": "127.0.0.1",
           "XBAR_PORT": str(port), "XBAR_AUTH": "off", "XBAR_DASK_WORKERS": str(workers),
           "XBAR_POLL_INTERVAL_S": "0.02", "XBAR_RUN_DRIVER": "true" if run_driver else "false"}
    xbar = Path(sys.executable).with_name("xbar")
    with log_path.open("ab") as log:
        return subprocess.Popen([str(xbar), "serve", "--no-migrate"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)


def start_topology(topology: str, url: str, log_path: Path, workers: int
                   ) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """The servers of ``topology`` (see the module docstring), up and answering; the base URL
    the clients load, and the processes."""
    port = free_port()
    servers = [start_server(url, port, log_path, workers, run_driver=topology == "combined")]
    if topology == "split":  # the driver's server: its own port, no clients
        servers.append(start_server(url, free_port(), log_path, workers))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200,
                   STARTUP_S, "the server answered /healthz")
    except TimeoutError as e:  # say why: the log goes with the temporary directory
        stop_servers(servers)
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        raise TimeoutError(f"{e}; server log ends:\n" + "\n".join(tail)) from None
    return base, servers


def stop_servers(servers: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM (a clean shutdown: the driver hands its studies back), then wait."""
    for server in servers:
        server.terminate()
    for server in servers:
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until(check: Any, timeout_s: float, what: str, interval_s: float = 0.5) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval_s)
    raise TimeoutError(f"{what} within {timeout_s:g} s")


def percentile(sorted_ms: list[float], q: float) -> float | None:
    """The ``q``-quantile (0..1, nearest rank) of ascending latencies [ms]."""
    if not sorted_ms:
        return None
    return round(sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))], 3)


async def hammer(base: str, endpoint: str, study_id: int, clients: int,
                 seconds: float) -> dict[str, Any]:
    """``clients`` concurrent clients on one endpoint for ``seconds``; their statistics."""
    paths = {"healthz": "/healthz", "study": f"{API}/studies/{study_id}",
             "pareto": f"{API}/studies/{study_id}/pareto",
             "trials_page": f"{API}/studies/{study_id}/trials"}
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    locked = 0
    deadline = 0.0  # set once the clients are connected

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal locked
        cursor: str | None = None
        while True:  # at least one request each, then until the deadline
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})} \
                if endpoint == "trials_page" else None
            t0 = time.perf_counter()
            r = await client.get(paths[endpoint], params=params)
            latencies.append(1e3 * (time.perf_counter() - t0))
            statuses[r.status_code] += 1
            locked += LOCKED in r.text
            if endpoint == "trials_page" and r.status_code == 200:
                cursor = r.json().get("next_cursor")
            if time.perf_counter() >= deadline:
                return

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits) as client:
        t0 = time.perf_counter()
        deadline = t0 + seconds
        await asyncio.gather(*(one(client) for _ in range(clients)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "endpoint": endpoint, "path": paths[endpoint], "clients": clients,
        "requests": len(latencies), "wall_s": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": percentile(latencies, 0.50), "p90_ms": percentile(latencies, 0.90),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": round(latencies[-1], 3) if latencies else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "n_5xx": sum(v for k, v in statuses.items() if k >= 500), "n_locked": locked,
    }


def run_backend(backend: str, n_trials: int, clients: int, seconds: float, workers: int,
                timeout_s: float, topologies: list[str] | None = None) -> list[dict[str, Any]]:
    """A fresh ``backend`` database: fill a study to ``n_trials`` completed trials with the
    first topology's servers, then, per topology in turn, load each endpoint while the study
    keeps running. One result per topology."""
    out = []
    with fresh_database(backend) as url, tempfile.TemporaryDirectory() as d:
        log_path = Path(d) / "server.log"
        sid, fill_s = None, None
        topologies = topologies or list(TOPOLOGIES)
        for k, topology in enumerate(topologies):
            log_start = log_path.stat().st_size if log_path.exists() else 0
            base, servers = start_topology(topology, url, log_path, workers)
            try:
                if sid is None:
                    body = study_definition(MAX_TRIALS)  # far beyond n_trials: keeps running
                    body["name"] = f"load-{n_trials}"
                    r = httpx.post(f"{base}{API}/studies", json=body, timeout=30)
                    r.raise_for_status()
                    sid = r.json()["id"]
                load0 = os.getloadavg()[0]
                phases, fill = load_phases(base, sid, backend, topology, n_trials, clients,
                                           seconds, timeout_s)
                load_avg = [round(load0, 1), round(os.getloadavg()[0], 1)]
                fill_s = fill if fill_s is None else fill_s
                if k == len(topologies) - 1:
                    httpx.post(f"{base}{API}/studies/{sid}:cancel", timeout=30)
            finally:
                stop_servers(servers)
            with log_path.open("rb") as f:  # this topology's lines only
                f.seek(log_start)
                log = f.read().decode(errors="replace").splitlines()
            out.append(summary(backend, topology, n_trials, phases, log,
                               fill_s if k == 0 else None))
            out[-1]["load_avg_1min"] = load_avg
            out[-1]["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def load_phases(base: str, sid: int, backend: str, topology: str, n_trials: int,
                clients: int, seconds: float, timeout_s: float
                ) -> tuple[list[dict[str, Any]], float]:
    """Wait for ``n_trials`` completed trials (the fill time), then load each endpoint in
    turn; the phases' statistics and the fill time [s]."""

    def completed() -> int:
        got = httpx.get(f"{base}{API}/studies/{sid}", timeout=30)
        got.raise_for_status()
        return int(got.json()["n_completed"])

    t0 = time.perf_counter()
    wait_until(lambda: completed() >= n_trials, timeout_s, f"{n_trials} trials completed",
               interval_s=1.0)
    fill_s = time.perf_counter() - t0
    phases = []
    for endpoint in ENDPOINTS:
        before, t_phase = completed(), time.perf_counter()
        stats = asyncio.run(hammer(base, endpoint, sid, clients, seconds))
        after = completed()
        stats["study_n_completed"] = after
        stats["trials_completed_meanwhile"] = after - before
        stats["trials_per_s_meanwhile"] = round(
            (after - before) / (time.perf_counter() - t_phase), 1)
        print(json.dumps({"backend": backend, "topology": topology, **stats}), flush=True)
        phases.append(stats)
    return phases, fill_s


def summary(backend: str, topology: str, n_trials: int, phases: list[dict[str, Any]],
            log: list[str], fill_s: float | None) -> dict[str, Any]:
    """One topology's result: its phases, the ratios the goals name, the log's counts."""
    by = {p["endpoint"]: p for p in phases}
    health = by["healthz"]["requests_per_s"]
    return {
        "backend": backend, "topology": topology, "n_trials": n_trials,
        "fill_s": round(fill_s, 3) if fill_s is not None else None,
        "fill_trials_per_s": round(n_trials / fill_s, 1) if fill_s else None,
        "phases": phases,
        "pareto_vs_healthz": round(by["pareto"]["requests_per_s"] / health, 3) if health else None,
        "p99_over_p50": {p["endpoint"]: round(p["p99_ms"] / p["p50_ms"], 2)
                         for p in phases if p["p50_ms"]},
        "n_5xx": sum(p["n_5xx"] for p in phases),
        "n_locked_responses": sum(p["n_locked"] for p in phases),
        "server_log_locked_lines": sum(LOCKED in line for line in log),
        "server_log_error_lines": sum(" ERROR " in line for line in log),
        "server_log_errors": error_samples(log),
    }


def error_samples(log: list[str], most: int = 5, context: int = 3) -> list[str]:
    """The first ``most`` ``ERROR`` lines of a server log, each with the ``context`` lines
    after it (where a traceback's last lines name the exception), 600 characters at most."""
    out = []
    for i, line in enumerate(log):
        if " ERROR " in line and len(out) < most:
            out.append("\n".join(log[i:i + 1 + context])[:600])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=10_000, help="completed trials before load")
    p.add_argument("--backends", nargs="+", choices=["sqlite", "pg"], default=["sqlite", "pg"])
    p.add_argument("--clients", type=int, default=8, help="concurrent clients per endpoint")
    p.add_argument("--seconds", type=float, default=20.0, help="load per endpoint [s]")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    p.add_argument("--timeout-s", type=float, default=1800.0, help="to fill the study")
    p.add_argument("--out", type=Path, default=RESULTS / "load.json")
    p.add_argument("--topologies", nargs="+", choices=TOPOLOGIES, default=list(TOPOLOGIES),
                   help="measured in this order on one study; the first fills it")
    p.add_argument("--keep", action="store_true",
                   help="keep the runs already in --out of the backends this call does not run")
    a = p.parse_args(argv)
    if not 0 < a.trials < MAX_TRIALS or a.clients < 1 or a.seconds <= 0:
        p.error(f"--trials (below {MAX_TRIALS}) and --clients must be positive, --seconds > 0")
    kept = json.loads(a.out.read_text())["runs"] if a.keep and a.out.exists() else []
    runs = [r for r in kept if r["backend"] not in a.backends]
    for b in a.backends:
        runs.extend(run_backend(b, a.trials, a.clients, a.seconds, a.workers, a.timeout_s,
                                a.topologies))
        write(runs, a)  # after every backend: a long call cut short keeps what it measured
    return 0


def write(runs: list[dict[str, Any]], a: argparse.Namespace) -> None:
    """``runs`` (SQLite first) to ``a.out``."""
    runs = sorted(runs, key=lambda r: (r["backend"] != "sqlite",
                                       TOPOLOGIES.index(r.get("topology", "combined"))))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    out = {"method": "random", "parallelism": PARALLELISM, "problem": "branin-currin",
           "server": f"xbar serve, LocalCluster {a.workers} worker processes, poll 20 ms",
           "topologies": {"combined": "one xbar serve: API, driver and Dask client",
                          "split": "API-only xbar serve (XBAR_RUN_DRIVER=false) loaded, "
                                   "a second xbar serve runs the driver"},
           "clients": a.clients, "seconds_per_endpoint": a.seconds,
           "load": "client, servers and workers on one 2-core machine shared with other "
                   "work; load_avg_1min per run (before, after its phases)", "runs": runs}
    a.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
