"""``xbar worker``: a Dask worker run inside this process that outlives scheduler restarts.

The worker runs in the CLI's own process (no child process), so a ``kill -9`` of the command
leaves nothing behind; SIGTERM/SIGINT close it cleanly. When its scheduler goes away the Dask
worker closes itself (Dask workers do not reconnect); this loop then waits for the scheduler
with exponential backoff and starts a fresh worker, logging one line per change of state.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from distributed import Worker
from distributed.comm import connect
from distributed.security import Security

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.2
"""First wait between two connection attempts [s]; doubles after each failure."""
BACKOFF_MAX_S = 5.0
"""Longest wait between two connection attempts [s]."""
PROBE_TIMEOUT_S = 2.0
"""Bound on one connection attempt [s]."""
GPU_RESOURCE = "GPU"
"""Dask resource name a GPU worker declares (``xbar worker --gpus N``)."""


def worker_resources(gpus: int, available: int | None = None) -> dict[str, float]:
    """Dask ``resources`` of a worker declaring ``gpus`` CUDA devices.

    Args:
        gpus: CUDA devices this worker offers (0: a CPU-only worker, no resources).
        available: devices visible to this process (default ``torch.cuda.device_count()``).

    Raises:
        ValueError: ``gpus`` negative or more than this process can see.
    """
    if gpus < 0:
        raise ValueError(f"--gpus must be >= 0, got {gpus}")
    if gpus == 0:
        return {}
    if available is None:
        import torch

        available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus > available:
        raise ValueError(f"--gpus {gpus} asked for, but this process sees {available} CUDA "
                         "device(s)")
    return {GPU_RESOURCE: float(gpus)}


async def _wait_for_scheduler(address: str, security: Security | None,
                              stop: asyncio.Event) -> bool:
    """Until ``address`` accepts a connection (True) or ``stop`` is set (False)."""
    args = security.get_connection_args("worker") if security else {}
    wait, logged = BACKOFF_START_S, False
    while not stop.is_set():
        try:
            comm = await connect(address, timeout=PROBE_TIMEOUT_S, **args)
            await comm.close()
            return True
        except (OSError, TimeoutError):
            if not logged:
                log.warning("waiting for the Dask scheduler at %s", address)
                logged = True
        try:
            await asyncio.wait_for(stop.wait(), wait)
        except TimeoutError:
            pass
        wait = min(2 * wait, BACKOFF_MAX_S)
    return False


async def serve_worker(address: str, *, nthreads: int = 1, name: str | None = None,
                       host: str = "127.0.0.1", security: Security | None = None,
                       max_restarts: int | None = None,
                       resources: dict[str, float] | None = None) -> int:
    """Run a worker for the scheduler at ``address`` until SIGTERM/SIGINT.

    Args:
        address: ``tcp://host:port`` or ``tls://host:port`` of the scheduler.
        nthreads: threads evaluating tasks.
        name: the worker's name (Dask default: its address).
        host: interface the worker listens on.
        security: Dask TLS settings, or ``None``.
        max_restarts: stop after this many scheduler losses (``None``: never; for tests).
        resources: Dask resources the worker declares (:func:`worker_resources`).

    Returns:
        The exit status: 0 after a signal or ``max_restarts`` losses.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    kwargs: dict[str, Any] = {"nthreads": nthreads, "host": host, "dashboard": False,
                              "name": name}
    if security is not None:
        kwargs["security"] = security
    if resources:
        kwargs["resources"] = dict(resources)
    losses = 0
    try:
        while await _wait_for_scheduler(address, security, stop):
            worker = await Worker(address, **kwargs)
            log.warning("worker %s registered with %s", worker.address, address)
            finished = asyncio.ensure_future(worker.finished())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({finished, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                await worker.close(reason="xbar worker stopped by a signal")
                finished.cancel()
                break
            stopping.cancel()
            losses += 1
            log.warning("lost the Dask scheduler %s; reconnecting", address)
            if max_restarts is not None and losses >= max_restarts:
                break
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0
