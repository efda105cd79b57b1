"""The ``xbar`` command line."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from app.cli import bench, keys, study, workload
from app.cli import eval as eval_cli
from app.cli.cost import cost
from app.cli.sweep import sweep

app = typer.Typer(help="xbar-dse: design-space exploration of ReRAM crossbar accelerators.",
                  no_args_is_help=True)
app.add_typer(study.app, name="study")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(bench.app, name="bench")
app.add_typer(keys.app, name="keys")
app.add_typer(workload.app, name="workload")
app.command()(sweep)
app.command()(cost)
out = Console()
err = Console(stderr=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (env XBAR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env XBAR_PORT, default 8000).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="External Dask scheduler tcp://host:port (env XBAR_DASK_SCHEDULER); "
             "default: start a LocalCluster.")] = None,
    workers: Annotated[int | None, typer.Option(help="LocalCluster workers.")] = None,
    migrate: Annotated[bool, typer.Option(help="Run `alembic upgrade head` first.")] = True,
) -> None:
    """Run the API server, the study driver and (by default) a local Dask cluster."""
    import uvicorn
    from pydantic import ValidationError

    from app.core.config import Settings

    overrides = {k: v for k, v in {"host": host, "port": port, "dask_scheduler": scheduler,
                                   "dask_workers": workers}.items() if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as e:
        err.print(f"[red]invalid settings:[/red]\n{e}")
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if migrate:
        from app.migrate import upgrade

        upgrade(settings.database_url)
    from app.main import create_app

    engine_desc = settings.dask_scheduler or f"LocalCluster({settings.dask_workers} workers)"
    err.print(f"xbar-dse serving on [bold]http://{settings.host}:{settings.port}[/bold] "
              f"(database {settings.database_url}, engine {engine_desc}, auth {settings.auth})")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@app.command()
def worker(
    scheduler: Annotated[str | None, typer.Argument(
        help="Dask scheduler address tcp://host:port or tls://host:port (env "
             "XBAR_DASK_SCHEDULER).")] = None,
    nthreads: Annotated[int, typer.Option(help="Threads of this worker.")] = 1,
    name: Annotated[str | None, typer.Option(help="Worker name.")] = None,
    host: Annotated[str | None, typer.Option(
        help="Interface the worker listens on (env XBAR_DASK_HOST, default 127.0.0.1).")] = None,
    gpus: Annotated[int, typer.Option(
        help="CUDA devices this worker offers, declared as the Dask resource GPU=N "
             "(default 0: CPU only).")] = 0,
) -> None:
    """Run a Dask worker (in this process) that can import the project and evaluate trials.

    It waits for the scheduler with backoff, reconnects after a scheduler restart, stops
    cleanly on SIGTERM/SIGINT and, running in this process, leaves nothing behind when killed.
    TLS: XBAR_DASK_TLS_CA_FILE, XBAR_DASK_TLS_CERT, XBAR_DASK_TLS_KEY.
    """
    import asyncio

    from pydantic import ValidationError

    from app.core.config import Settings
    from app.execution.clusters import security_from
    from app.execution.worker import serve_worker, worker_resources

    try:
        settings = Settings(**({"dask_host": host} if host else {}))
        security = security_from(settings)
    except (ValidationError, ValueError) as e:
        err.print(f"[red]invalid settings:[/red]\n{e}")
        raise typer.Exit(2) from None
    try:
        resources = worker_resources(gpus)
    except ValueError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    addr = scheduler or settings.dask_scheduler
    if not addr or "://" not in addr:
        err.print("[red]error:[/red] give the scheduler address (tcp://host:port) or set "
                  "XBAR_DASK_SCHEDULER")
        raise typer.Exit(2)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    err.print(f"starting worker for {addr} on {settings.dask_host}")
    raise typer.Exit(asyncio.run(serve_worker(addr, nthreads=nthreads, name=name,
                                              host=settings.dask_host, security=security,
                                              resources=resources)))


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":
    app()
