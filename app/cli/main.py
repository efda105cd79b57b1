"""The ``xbar`` command line."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer
from rich.console import Console

from app.cli import bench, keys, study
from app.cli import eval as eval_cli
from app.cli.sweep import sweep

app = typer.Typer(help="xbar-dse: design-space exploration of ReRAM crossbar accelerators.",
                  no_args_is_help=True)
app.add_typer(study.app, name="study")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(bench.app, name="bench")
app.add_typer(keys.app, name="keys")
app.command()(sweep)
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
        help="Dask scheduler address tcp://host:port (env XBAR_DASK_SCHEDULER).")] = None,
    nthreads: Annotated[int, typer.Option(help="Threads of this worker.")] = 1,
    name: Annotated[str | None, typer.Option(help="Worker name.")] = None,
) -> None:
    """Start a Dask worker that can import the project and evaluate trials."""
    import subprocess
    import sys

    addr = scheduler or os.environ.get("XBAR_DASK_SCHEDULER")
    if not addr:
        err.print("[red]error:[/red] give the scheduler address (tcp://host:port) or set "
                  "XBAR_DASK_SCHEDULER")
        raise typer.Exit(2)
    cmd = [sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nthreads",
           str(nthreads), "--nworkers", "1", "--no-dashboard"]
    if name:
        cmd += ["--name", name]
    err.print(f"starting worker for {addr}")
    raise typer.Exit(subprocess.call(cmd))


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":
    app()
