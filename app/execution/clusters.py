"""Which Dask cluster runs evaluations, chosen by configuration (``Settings.dask_cluster``).

- ``local``: a ``LocalCluster`` inside ``xbar serve`` (``dask_workers`` workers), bound to
  ``dask_host``; a dashboard only when ``dask_dashboard`` names ``host:port``.
- ``tcp://host:port`` / ``tls://host:port``: an external scheduler (``dask scheduler``) with
  ``xbar worker`` processes.
- ``slurm`` / ``pbs``: dask-jobqueue's ``SLURMCluster`` / ``PBSCluster``; job resources
  (cores, memory, queue, account, walltime...) come from the dask config ``jobqueue.slurm.*`` /
  ``jobqueue.pbs.*`` (a YAML file or ``DASK_JOBQUEUE__SLURM__CORES``-style variables);
  ``dask_jobs`` jobs are submitted.
- ``kubernetes``: dask-kubernetes' operator ``KubeCluster`` with ``dask_jobs`` workers of
  ``dask_image``.

TLS: ``dask_tls_ca_file`` + ``dask_tls_cert`` + ``dask_tls_key`` (PEM) turn on mutual TLS for
client, scheduler and workers (``security_from``); the address then starts with ``tls://``.
"""

from __future__ import annotations

from typing import Any

from distributed.security import Security

from app.core.config import Settings
from app.execution.engine import DaskEngine

JOBQUEUE = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}
"""``dask_cluster`` values served by dask-jobqueue -> its cluster class."""


def security_from(settings: Settings) -> Security | None:
    """Dask TLS settings for client, scheduler and workers, or ``None`` when TLS is off.

    Raises:
        ValueError: only part of ``dask_tls_ca_file``/``dask_tls_cert``/``dask_tls_key`` set.
    """
    parts = (settings.dask_tls_ca_file, settings.dask_tls_cert, settings.dask_tls_key)
    if not any(parts):
        return None
    if not all(parts):
        raise ValueError("Dask TLS needs XBAR_DASK_TLS_CA_FILE, XBAR_DASK_TLS_CERT and "
                         "XBAR_DASK_TLS_KEY together")
    ca, cert, key = parts
    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key,
                    tls_scheduler_cert=cert, tls_scheduler_key=key, tls_worker_cert=cert,
                    tls_worker_key=key, require_encryption=True)


def scheduler_address(settings: Settings) -> str | None:
    """The external scheduler named by ``dask_scheduler`` or ``dask_cluster``, or ``None``."""
    if settings.dask_scheduler:
        return settings.dask_scheduler
    if settings.dask_cluster.startswith(("tcp://", "tls://")):
        return settings.dask_cluster
    return None


def jobqueue_cluster(settings: Settings, security: Security | None = None) -> Any:
    """A dask-jobqueue cluster (``slurm`` or ``pbs``) whose scheduler binds ``dask_host``;
    its job resources come from the dask config. Submits ``dask_jobs`` jobs."""
    import dask_jobqueue

    cls = getattr(dask_jobqueue, JOBQUEUE[settings.dask_cluster])
    cluster = cls(security=security, scheduler_options={
        "host": settings.dask_host,
        "dashboard_address": settings.dask_dashboard or f"{settings.dask_host}:0"})
    if settings.dask_jobs:
        cluster.scale(jobs=settings.dask_jobs)
    return cluster


def kubernetes_spec(settings: Settings) -> dict[str, Any]:
    """The DaskCluster resource the dask-kubernetes operator is asked for: ``dask_jobs``
    workers of ``dask_image``, the scheduler reachable inside the cluster only (ClusterIP)."""
    from dask_kubernetes.operator import make_cluster_spec

    return make_cluster_spec(name="xbar-dse", image=settings.dask_image,
                             n_workers=settings.dask_jobs, scheduler_service_type="ClusterIP")


def make_engine(settings: Settings) -> DaskEngine:
    """The engine ``settings`` ask for (see the module docstring)."""
    security = security_from(settings)
    address = scheduler_address(settings)
    if address:
        return DaskEngine(address, security=security)
    kind = settings.dask_cluster
    if kind in JOBQUEUE:
        return DaskEngine(cluster=jobqueue_cluster(settings, security), security=security)
    if kind == "kubernetes":
        from dask_kubernetes.operator import KubeCluster

        return DaskEngine(cluster=KubeCluster(custom_cluster_spec=kubernetes_spec(settings)))
    return DaskEngine(None, n_workers=settings.dask_workers, processes=settings.dask_processes,
                      host=settings.dask_host, dashboard_address=settings.dask_dashboard,
                      security=security)
