"""The distributed engine: a Dask ``LocalCluster`` by default, an external scheduler, or a
cluster object (SLURM/PBS/Kubernetes, built by ``execution.clusters``).

Dask is the muscle, not the memory: whatever it loses, the driver re-submits from the database.
The engine watches its client: when the scheduler connection drops it reports itself down
(``check()``), and when Dask gave up reconnecting on its own it makes a new client, retrying
with exponential backoff, so a scheduler restart is survived without restarting the server.
Each loss bumps ``generation``: futures submitted under an older generation are gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from distributed import Client, Future, LocalCluster
from distributed.security import Security

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.5
"""First wait before making a new client after Dask closed the old one [s]."""
BACKOFF_MAX_S = 10.0
"""Longest wait between two reconnection attempts [s]."""


class DaskEngine:
    """Submits functions to Dask workers and keeps a live client to the scheduler.

    Args:
        scheduler: ``tcp://host:port`` (or ``tls://``) of an external scheduler; ``None``
            starts a LocalCluster (or uses ``cluster``).
        n_workers: LocalCluster workers (one thread each).
        processes: LocalCluster workers as processes (isolation, real parallelism) or threads.
        host: interface the LocalCluster's scheduler, workers and HTTP server bind to.
        dashboard_address: ``host:port`` of the LocalCluster's dashboard; ``None``: no dashboard
            (the scheduler's small HTTP server still binds to ``host``, on a free port).
        security: Dask TLS settings for the client (and a LocalCluster), or ``None``.
        cluster: an already built cluster object (dask-jobqueue, dask-kubernetes); the engine
            closes it with itself.
        connect_timeout_s: bound on one connection attempt [s].
    """

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        n_workers: int = 2,
        processes: bool = True,
        host: str = "127.0.0.1",
        dashboard_address: str | None = None,
        security: Security | None = None,
        cluster: Any = None,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.cluster: Any = cluster
        self.security = security
        self.connect_timeout_s = connect_timeout_s
        self.generation = 0
        """Bumped whenever the scheduler connection was lost or the client replaced."""
        self._lock = threading.Lock()
        self._up = True
        self._closing = False
        self._backoff_s = BACKOFF_START_S
        self._next_try = 0.0
        if scheduler:
            log.info("connecting to Dask scheduler %s", scheduler)
            self._target: Any = scheduler
        elif cluster is None:
            self.cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=processes,
                # worker processes talk TCP on `host` only; thread workers use in-process comms
                **({"host": host} if processes else {}),
                dashboard_address=dashboard_address,
                # without a dashboard the scheduler still serves /health: keep it on `host`
                scheduler_kwargs={} if dashboard_address else {"dashboard_address": f"{host}:0"},
                security=security,
                silence_logs=logging.WARNING,
            )
            self._target = self.cluster
        else:
            self._target = cluster
        self.client = self._connect()
        self.address = self.client.scheduler.address

    def _connect(self) -> Client:
        return Client(self._target, set_as_default=False, timeout=self.connect_timeout_s,
                      **({"security": self.security} if self.security is not None else {}))

    def submit(self, fn: Callable[..., Any], *args: Any, key: str | None = None) -> Future:
        kwargs: dict[str, Any] = {"pure": False}
        if key:
            kwargs["key"] = key
        return self.client.submit(fn, *args, **kwargs)

    def submit_many(self, fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Future]:
        """``fn(*args)`` for each ``args`` in ``calls`` (all of one length), sent to the
        scheduler in one message (``Client.map``) instead of one per call; one future per
        call, in order. Arguments may be futures (scattered data)."""
        if not calls:
            return []
        return self.client.map(fn, *zip(*calls, strict=True), pure=False)

    def gather(self, futures: list[Future]) -> list[Any]:
        """Results of finished futures, fetched in one round trip to the scheduler (a
        ``Future.result()`` each costs one round trip per future)."""
        return self.client.gather(futures) if futures else []

    # -- connection state -------------------------------------------------------------------
    def check(self) -> bool:
        """Whether the scheduler is reachable now. Logs one line when that changes; once Dask
        has closed a client that could not reconnect, makes a new one (at most one attempt per
        backoff interval, each bounded by ``connect_timeout_s``). Called by the driver's loop."""
        with self._lock:
            status = self.client.status
            if status == "running":
                if not self._up:
                    self._mark_up()
                return True
            if self._up:
                self._up = False
                self.generation += 1
                self._backoff_s, self._next_try = BACKOFF_START_S, 0.0
                log.warning("lost the Dask scheduler %s (client %s): in-flight work will be "
                            "re-queued; reconnecting", self.address, status)
            if status in ("closed", "closing") and not self._closing:
                self._reconnect()
            return self._up

    def _mark_up(self) -> None:
        self._up = True
        self.generation += 1
        self._backoff_s = BACKOFF_START_S
        self.address = self.client.scheduler.address
        log.warning("Dask scheduler %s reachable again", self.address)

    def _reconnect(self) -> None:
        now = time.monotonic()
        if now < self._next_try:
            return
        try:
            client = self._connect()
        except (OSError, TimeoutError) as e:
            log.debug("reconnecting to the Dask scheduler failed: %s", e)
            self._next_try = time.monotonic() + self._backoff_s
            self._backoff_s = min(2 * self._backoff_s, BACKOFF_MAX_S)
            return
        old, self.client = self.client, client
        try:
            old.close(timeout=1)
        except Exception:  # a closed client may complain while closing again
            log.debug("closing the old Dask client failed", exc_info=True)
        self._mark_up()

    def readiness(self, timeout_s: float = 1.0) -> tuple[bool, str]:
        """``(ready, detail)`` for ``/readyz`` within about ``timeout_s`` seconds: ready when
        the scheduler answers and has at least one worker; the detail says how many, or why
        not. Never waits on a reconnection."""
        client = self.client
        if client.status != "running":
            return False, f"scheduler unreachable (client {client.status})"
        try:
            info = client.sync(client.scheduler.identity, n_workers=-1,
                               callback_timeout=timeout_s)
        except Exception as e:  # timeout, lost comm: report, don't hang the probe
            return False, f"scheduler unreachable ({type(e).__name__})"
        n = len(info.get("workers", {}))
        return n > 0, f"ok ({n} workers)" if n else "no workers"

    def n_threads(self) -> int:
        """Worker threads of the cluster as the client last heard (it refreshes the figure
        every few seconds by itself: no round trip here); at least 1."""
        info = getattr(self.client, "_scheduler_identity", None) or {}
        return max(1, int(info.get("total_threads") or len(info.get("workers") or ())))

    def n_workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def close(self) -> None:
        self._closing = True
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
