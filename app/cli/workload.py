"""``xbar workload upload|list|delete``: a user's own model and data set on a shared server.

The files are read here (the user's machine) and sent as multipart bytes; the request never
names a path. Exit codes as ``xbar study`` (:mod:`app.cli.client`): 0 done, 2 bad input (file,
4xx answer), 3 infrastructure (server unreachable, 5xx answer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from app.cli.client import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    ApiError,
    Client,
    KeyOpt,
    UrlOpt,
    YesOpt,
)

app = typer.Typer(help="Upload, list and delete your own workloads (model + data set).",
                  no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _fail(message: object, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise _fail(f"cannot read the {what} file {path}: {e.strerror}", EXIT_BAD_INPUT) from None


def upload_workload(client: Client, name: str, model: Path, data: Path,
                    model_format: str | None = None,
                    architecture: str | None = None) -> dict[str, Any]:
    """Upload ``model`` and ``data`` (local files, sent as bytes) as workload ``name``.

    Raises:
        ApiError: the server refused it (4xx) or could not be reached / failed (5xx).
    """
    form = {"name": name, **({"model_format": model_format} if model_format else {}),
            **({"architecture": architecture} if architecture else {})}
    files = {"model": (model.name, _read_file(model, "model"), "application/octet-stream"),
             "data": (data.name, _read_file(data, "data"), "application/octet-stream")}
    return client.post("/workloads", data=form, files=files)


@app.command()
def upload(
    name: str,
    model: Annotated[Path, typer.Option("--model", help="Model file (ONNX or safetensors).")],
    data: Annotated[Path, typer.Option("--data", help="Data set (.npz).")],
    model_format: Annotated[str | None, typer.Option(help="Model format (else sniffed).")]
    = None,
    architecture: Annotated[str | None, typer.Option(
        help="Bundled architecture of a safetensors state dict.")] = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
) -> None:
    """Upload a model and a data set as workload NAME (validated by the server)."""
    try:
        w = upload_workload(Client(url, api_key), name, model, data, model_format, architecture)
    except ApiError as e:
        raise _fail(e, e.exit_code) from None
    out.print(f"uploaded workload {w['name']} (model {w['model_format']} "
              f"{w['model_size_bytes']} B, data {w['data_size_bytes']} B)", highlight=False)


@app.command("list")
def list_(url: UrlOpt = None, api_key: KeyOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False
          ) -> None:
    """List built-in workloads and your uploads."""
    try:
        rows = Client(url, api_key).get("/workloads")["data"]
    except ApiError as e:
        raise _fail(e, e.exit_code) from None
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("name", "source", "details")
    for w in rows:
        detail = (f"{w['model_format']} {w['model_size_bytes']} B + {w['data_format']} "
                  f"{w['data_size_bytes']} B" if w["source"] == "uploaded"
                  else w.get("description") or "")
        table.add_row(w["name"], w["source"], detail)
    out.print(table)


@app.command()
def delete(
    name: str,
    yes: YesOpt = False,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
) -> None:
    """Delete your uploaded workload NAME (refused while an active study uses it)."""
    if not yes and not typer.confirm(f"Delete uploaded workload {name}?"):
        raise typer.Exit(EXIT_FAILED)
    try:
        Client(url, api_key).delete(f"/workloads/{name}")
    except ApiError as e:
        raise _fail(e, e.exit_code) from None
    out.print(f"deleted workload {name}", highlight=False)
