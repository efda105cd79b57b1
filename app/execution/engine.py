"""The distributed engine: a Dask ``LocalCluster`` by default, or an external scheduler.

Dask is the muscle, not the memory: whatever it loses, the driver re-submits from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from distributed import Client, Future, LocalCluster

log = logging.getLogger(__name__)


class DaskEngine:
    """Submits functions to Dask workers.

    Args:
        scheduler: ``tcp://host:port`` of an external scheduler; ``None`` starts a LocalCluster.
        n_workers: LocalCluster workers (one thread each).
        processes: LocalCluster workers as processes (isolation, real parallelism) or threads.
    """

    def __init__(
        self, scheduler: str | None = None, *, n_workers: int = 2, processes: bool = True
    ) -> None:
        self.cluster: LocalCluster | None = None
        if scheduler:
            log.info("connecting to Dask scheduler %s", scheduler)
            self.client = Client(scheduler, set_as_default=False)
        else:
            self.cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=processes,
                # worker processes talk TCP on loopback only; thread workers use in-process comms
                **({"host": "127.0.0.1"} if processes else {}),
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
            self.client = Client(self.cluster, set_as_default=False)
        self.address = self.client.scheduler.address

    def submit(self, fn: Callable[..., Any], *args: Any, key: str | None = None) -> Future:
        kwargs: dict[str, Any] = {"pure": False}
        if key:
            kwargs["key"] = key
        return self.client.submit(fn, *args, **kwargs)

    def n_workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
