"""Clusters by configuration: XBAR_DASK_CLUSTER picks local / an address / SLURM / PBS /
Kubernetes (the cluster objects and their job scripts or specs are built; no cluster is
reachable here); bind addresses default to loopback; Dask TLS with self-signed certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import dask
import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.execution.clusters import (
    jobqueue_cluster,
    kubernetes_spec,
    make_engine,
    scheduler_address,
    security_from,
)
from app.execution.engine import DaskEngine


def _settings(**kw) -> Settings:
    return Settings(database_url="sqlite://", **kw)


def _listening_hosts(server) -> set[str]:
    return {sock.getsockname()[0] for sock in server._sockets.values()}


def test_cluster_setting_is_validated_and_addresses_resolve() -> None:
    with pytest.raises(ValidationError, match="XBAR_DASK_CLUSTER"):
        _settings(dask_cluster="yarn")
    assert scheduler_address(_settings()) is None
    assert scheduler_address(_settings(dask_cluster="tls://10.0.0.5:8786")) == "tls://10.0.0.5:8786"
    both = _settings(dask_cluster="tcp://a:1", dask_scheduler="tcp://b:2")
    assert scheduler_address(both) == "tcp://b:2"  # XBAR_DASK_SCHEDULER wins


def test_local_cluster_binds_loopback_and_has_no_open_dashboard() -> None:
    """The in-process cluster's scheduler HTTP server (dashboard off) listens on 127.0.0.1
    only, never 0.0.0.0:8787; with processes its comm address is loopback too."""
    eng = make_engine(_settings(dask_workers=1, dask_processes=False))
    try:
        assert _listening_hosts(eng.cluster.scheduler.http_server) == {"127.0.0.1"}
        assert eng.readiness() == (True, "ok (1 workers)")
    finally:
        eng.close()
    eng = DaskEngine(None, n_workers=1, processes=True, host="127.0.0.1")
    try:
        assert eng.address.startswith("tcp://127.0.0.1:")
        assert _listening_hosts(eng.cluster.scheduler.http_server) == {"127.0.0.1"}
    finally:
        eng.close()


def test_slurm_and_pbs_job_scripts_follow_the_dask_config() -> None:
    pytest.importorskip("dask_jobqueue")
    conf = {"jobqueue.slurm.cores": 2, "jobqueue.slurm.memory": "4GB",
            "jobqueue.slurm.queue": "gpu", "jobqueue.slurm.walltime": "01:00:00",
            "jobqueue.pbs.cores": 1, "jobqueue.pbs.memory": "2GB",
            "jobqueue.pbs.queue": "batch"}
    with dask.config.set(conf):
        slurm = jobqueue_cluster(_settings(dask_cluster="slurm", dask_jobs=0))
        try:
            script = slurm.job_script()
            assert slurm.scheduler_address.startswith("tcp://127.0.0.1:")
        finally:
            slurm.close()
        pbs = jobqueue_cluster(_settings(dask_cluster="pbs", dask_jobs=0))
        try:
            pbs_script = pbs.job_script()
        finally:
            pbs.close()
    assert "#SBATCH -p gpu" in script and "#SBATCH --cpus-per-task=2" in script
    assert "#SBATCH -t 01:00:00" in script
    assert "distributed.cli.dask_worker tcp://127.0.0.1:" in script
    assert "#PBS -q batch" in pbs_script and "distributed.cli.dask_worker" in pbs_script


def test_kubernetes_spec() -> None:
    pytest.importorskip("dask_kubernetes")
    spec = kubernetes_spec(_settings(dask_cluster="kubernetes", dask_jobs=3,
                                     dask_image="registry.example/xbar-dse:1"))
    assert spec["kind"] == "DaskCluster" and spec["metadata"]["name"] == "xbar-dse"
    worker = spec["spec"]["worker"]
    assert worker["replicas"] == 3
    assert worker["spec"]["containers"][0]["image"] == "registry.example/xbar-dse:1"
    assert spec["spec"]["scheduler"]["service"]["type"] == "ClusterIP"


def _self_signed(tmp: Path) -> tuple[str, str, str]:
    """A CA and a certificate for 127.0.0.1/localhost signed by it (PEM files)."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("xbar-ca")).issuer_name(name("xbar-ca"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return tuple(str(p) for p in paths)  # type: ignore[return-value]


def test_tls_cluster_runs_tasks_and_refuses_plain_clients(tmp_path: Path) -> None:
    """XBAR_DASK_TLS_*: the scheduler listens on tls://, a task runs over mutual TLS, and a
    client without the certificates cannot connect."""
    ca, cert, key = _self_signed(tmp_path)
    with pytest.raises(ValueError, match="together"):
        security_from(_settings(dask_tls_ca_file=ca))
    settings = _settings(dask_workers=1, dask_processes=True, dask_tls_ca_file=ca,
                         dask_tls_cert=cert, dask_tls_key=key)
    eng = make_engine(settings)
    try:
        assert eng.address.startswith("tls://127.0.0.1:")
        assert eng.submit(sum, [1, 2, 3]).result(timeout=30) == 6
        from distributed import Client

        with pytest.raises((OSError, TimeoutError, TypeError, ValueError)):
            Client(eng.address.replace("tls://", "tcp://"), timeout=2, set_as_default=False)
    finally:
        eng.close()
