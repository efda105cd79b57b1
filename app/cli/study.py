"""``xbar study create|show|watch|export``."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.client import ApiError, Client

app = typer.Typer(help="Create, inspect, follow and export studies.", no_args_is_help=True)
err = Console(stderr=True)
out = Console()

UrlOpt = Annotated[str | None, typer.Option("--url", help="Service URL (env XBAR_URL).")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", help="API key (env XBAR_API_KEY).")]
FINAL = ("completed", "failed", "cancelled")


def _fail(e: Exception, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {e}")
    return typer.Exit(code)


def load_study_file(path: Path) -> dict[str, Any]:
    """Read a study definition from YAML or JSON.

    Raises:
        ValueError: unreadable file or not a mapping.
    """
    try:
        text = path.read_text()
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from e
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                         f"{e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping (name, problem, budget, ...)")
    return data


@app.command()
def create(
    file: Annotated[Path, typer.Argument(help="Study definition (.yaml/.yml/.json).")],
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    watch: Annotated[bool, typer.Option("--watch", help="Follow progress until done.")] = False,
) -> None:
    """Submit a study file; prints the new study's id."""
    try:
        body = load_study_file(file)
        client = Client(url, api_key)
        study = client.post("/studies", json=body)
    except (ValueError, ApiError) as e:
        raise _fail(e, 2 if isinstance(e, ValueError) or getattr(e, "status", 0) == 422
                    else 1) from None
    out.print(f"created study [bold]{study['id']}[/bold] ({study['name']}, method "
              f"{study['method']})")
    if watch:
        _watch(client, study["id"], 1.0)


@app.command()
def show(study_id: int, url: UrlOpt = None, api_key: KeyOpt = None,
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show a study's state, budget, counts, hypervolume and Pareto front."""
    try:
        client = Client(url, api_key)
        s = client.get(f"/studies/{study_id}")
        front = client.get(f"/studies/{study_id}/pareto")
    except ApiError as e:
        raise _fail(e) from None
    if as_json:
        sys.stdout.write(json.dumps({"study": s, "pareto": front}, indent=2) + "\n")
        return
    t = Table(title=f"study {s['id']}: {s['name']}", show_header=False)
    for k in ("state", "method", "parallelism", "n_trials", "n_completed", "n_failed",
              "total_cost_s", "hypervolume", "error"):
        t.add_row(k, str(s[k]))
    t.add_row("problem", json.dumps(s["problem"]))
    t.add_row("budget", json.dumps({k: v for k, v in s["budget"].items() if v is not None}))
    out.print(t)
    names = [o["name"] for o in front["objectives"]]
    ft = Table(title=f"Pareto front ({len(front['points'])} points)")
    ft.add_column("#")
    for n, o in zip(names, front["objectives"], strict=True):
        ft.add_column(f"{n} ({'max' if o['direction'] == 'maximize' else 'min'})")
    for p in front["points"]:
        ft.add_row(str(p["number"]), *[f"{p['values'][n]:.6g}" for n in names])
    out.print(ft)


def _watch(client: Client, study_id: int, interval: float) -> dict[str, Any]:
    s = client.get(f"/studies/{study_id}")
    total = s["budget"].get("max_trials")
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} trials"),
                  TextColumn("front {task.fields[front]}  HV {task.fields[hv]}  "
                             "cost {task.fields[cost]}s  {task.fields[state]}"),
                  TimeElapsedColumn(), console=err) as progress:
        task = progress.add_task(f"study {study_id}", total=total, front=0, hv="-", cost=0,
                                 state=s["state"])
        etag = None
        front_n = 0
        while True:
            s = client.get(f"/studies/{study_id}")
            r = client.http.get(f"/studies/{study_id}/pareto",
                                headers={"If-None-Match": etag} if etag else {})
            if r.status_code == 200:
                etag = r.headers.get("ETag")
                front_n = len(r.json()["points"])
            hv = s["hypervolume"]
            progress.update(task, completed=s["n_completed"] + s["n_failed"], front=front_n,
                            hv=f"{hv:.4g}" if hv is not None else "-",
                            cost=f"{s['total_cost_s']:.3g}", state=s["state"])
            if s["state"] in FINAL:
                return s
            time.sleep(interval)


@app.command()
def watch(study_id: int, url: UrlOpt = None, api_key: KeyOpt = None,
          interval: Annotated[float, typer.Option(min=0.1)] = 1.0) -> None:
    """Follow a study live: trials done/total, front size, hypervolume. Exit 1 if it fails."""
    try:
        s = _watch(Client(url, api_key), study_id, interval)
    except ApiError as e:
        raise _fail(e) from None
    out.print(f"study {study_id} {s['state']}: {s['n_completed']} completed, "
              f"{s['n_failed']} failed, hypervolume {s['hypervolume']}")
    if s["state"] != "completed":
        raise typer.Exit(1)


@app.command()
def export(
    study_id: int,
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
) -> None:
    """Export every trial (params, fidelity, values, cost, front membership)."""
    if fmt not in ("csv", "json"):
        raise _fail(ValueError(f"--format must be csv or json, not {fmt!r}"), 2)
    try:
        client = Client(url, api_key)
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = client.get(f"/studies/{study_id}/trials",
                              params={"limit": 500, **({"cursor": cursor} if cursor else {})})
            for t in page["data"]:
                row = {"number": t["number"], "state": t["state"], "fidelity": t["fidelity"],
                       "attempt": t["attempt"], "is_pareto": t["is_pareto"],
                       "cost_s": t["cost_s"]}
                row.update({f"param.{k}": v for k, v in t["params"].items()})
                row.update({f"value.{k}": v for k, v in (t["values"] or {}).items()})
                rows.append(row)
            cursor = page["next_cursor"]
            if not cursor:
                break
    except ApiError as e:
        raise _fail(e) from None
    if fmt == "json":
        text = json.dumps(rows, indent=2) + "\n"
    else:
        buf = io.StringIO()
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        w = csv.DictWriter(buf, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
        text = buf.getvalue()
    if output:
        output.write_text(text)
        err.print(f"wrote {len(rows)} trials to {output}")
    else:
        sys.stdout.write(text)
