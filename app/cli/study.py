"""``xbar study create|validate|schema|list|show|watch|export|delete``.

Exit codes (:mod:`app.cli.client`): 0 done, 1 the study failed or was cancelled, 2 bad input
(file, 4xx answer), 3 infrastructure (server unreachable, 5xx answer).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from app.cli.client import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    ApiError,
    Client,
    KeyOpt,
    UrlOpt,
    YesOpt,
)
from app.cli.render import (
    front_table,
    predicted_table,
    progress_of,
    studies_table,
    study_table,
)
from app.cli.studyfile import (
    StudyFile,
    StudyFileError,
    load_study_file,
    upload_local_workload,
    validate_locally,
)

__all__ = ["FINAL", "app", "load_study_file", "wait_for_study"]

app = typer.Typer(help="Create, validate, inspect, follow, export and delete studies.",
                  no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

FINAL = ("completed", "failed", "cancelled")


def _fail(e: Exception, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {e}", highlight=False)
    return typer.Exit(code)


def _api_fail(e: ApiError) -> typer.Exit:
    return _fail(e, e.exit_code)


def _read(file: Path) -> StudyFile:
    try:
        return StudyFile.read(file)
    except StudyFileError as e:
        raise _fail(e, EXIT_BAD_INPUT) from None


def study_exit_code(study: dict[str, Any]) -> int:
    """0 for a completed study, 1 for a failed or cancelled one."""
    return EXIT_OK if study["state"] == "completed" else EXIT_FAILED


@app.command()
def create(
    file: Annotated[Path, typer.Argument(help="Study definition (.yaml/.yml/.json).")],
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    watch: Annotated[bool, typer.Option("--watch", help="Follow progress until done; exit "
                                        "1 if the study fails.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls.")] = 1.0,
) -> None:
    """Submit a study file; prints the new study's id. Local ``problem.model_file`` and
    ``data_file`` are uploaded first and the study names the upload."""
    sf = _read(file)
    client = Client(url, api_key)
    try:
        body = upload_local_workload(client, sf.data, sf.path.parent)
    except StudyFileError as e:
        raise _fail(e, EXIT_BAD_INPUT) from None
    except ApiError as e:
        raise _api_fail(e) from None
    try:
        study = client.post("/studies", json=body)
    except ApiError as e:
        if e.errors:
            raise _fail(ValueError(f"HTTP {e.status}: the server refused the study:\n"
                                   f"{sf.describe(e.errors)}"), e.exit_code) from None
        raise _api_fail(e) from None
    out.print(f"created study [bold]{study['id']}[/bold] ({study['name']}, method "
              f"{study['method']})", highlight=False)
    if watch:
        _finish_watch(client, study["id"], interval)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Study definition (.yaml/.yml/.json).")],
    server: Annotated[bool, typer.Option("--server", help="Ask the service at --url "
                                         "(POST /studies:validate) instead of checking "
                                         "locally.")] = False,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
) -> None:
    """Check a study file without submitting it: syntax (with line numbers), then every field
    as the API checks it (locally through the same code, or on the server with --server).
    Exit 0 when valid, 2 when not, 3 when --server cannot be reached."""
    sf = _read(file)
    if server:
        client = Client(url, api_key)
        try:
            client.post("/studies:validate", json=sf.data)
        except ApiError as e:
            if e.errors:
                raise _fail(ValueError(f"{file} is invalid (server):\n{sf.describe(e.errors)}"),
                            e.exit_code) from None
            raise _api_fail(e) from None
        out.print(f"{file}: valid (server {client.url})", highlight=False)
        return
    errors, objectives = validate_locally(sf.data, sf.path.parent)
    if errors:
        raise _fail(ValueError(f"{file} is invalid:\n{sf.describe(errors)}"), EXIT_BAD_INPUT)
    out.print(f"{file}: valid ({len(objectives)} objectives: {', '.join(objectives)})",
              highlight=False)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the schema here instead of standard output.")] = None,
) -> None:
    """Print the JSON Schema of a study definition, exact per problem (objectives and
    reference-point length, benchmark and workload options, crossbar parameter domains, method
    options, this installation's per-study caps), for an editor or a CI linter of study files.
    Rules no JSON Schema states are listed under ``x-checked-at-creation``; ``xbar study
    validate`` checks them all."""
    from app.core.config import Settings
    from app.schemas.study_schema import study_json_schema

    text = json.dumps(study_json_schema(Settings()), indent=1)
    if output is None:
        sys.stdout.write(text + "\n")
        return
    output.write_text(text + "\n")
    err.print(f"wrote {output}", highlight=False)


@app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="Only studies in this state.")] = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
) -> None:
    """List studies: id, name, state, progress, hypervolume, cost."""
    client = Client(url, api_key)
    rows: list[dict[str, Any]] = []
    cursor = None
    try:
        while True:
            params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {}),
                                      **({"state": state} if state else {})}
            page = client.get("/studies", params=params)
            rows += page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                break
    except ApiError as e:
        raise _api_fail(e) from None
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    out.print(studies_table(rows))


@app.command()
def show(study_id: int, url: UrlOpt = None, api_key: KeyOpt = None,
         as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False
         ) -> None:
    """Show a study's state, budget, counts, hypervolume and Pareto front (objectives and
    parameters of every point, with units); for a model-based method also its predicted
    front, labelled as predictions (posterior mean ± sd at the target fidelity)."""
    try:
        client = Client(url, api_key)
        s = client.get(f"/studies/{study_id}")
        front = client.get(f"/studies/{study_id}/pareto")
        predicted = predicted_front(client, study_id)
    except ApiError as e:
        raise _api_fail(e) from None
    if as_json:
        sys.stdout.write(json.dumps({"study": s, "pareto": front, "predicted": predicted},
                                    indent=2) + "\n")
        return
    out.print(study_table(s))
    out.print(front_table(front))
    if predicted is not None and predicted["status"] == "ready":
        out.print(predicted_table(predicted))
    elif predicted is not None:
        out.print(f"predicted front: still computing from {predicted['n_observations']} "
                  "trials; run `xbar study show` again")


PREDICTED_WAIT_S = 30.0
"""How long ``xbar study show`` waits for a predicted front being computed [s]."""


def predicted_front(client: Client, study_id: int, wait_s: float = PREDICTED_WAIT_S
                    ) -> dict[str, Any] | None:
    """The study's predicted front (``GET /pareto?source=predicted``), waiting up to
    ``wait_s`` while it is computed (the answer's ``Retry-After``); ``None`` for a model-free
    method (409) or a server without an engine (503)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            r = client.send("GET", f"/studies/{study_id}/pareto",
                            params={"source": "predicted"})
        except ApiError as e:
            if e.status in (409, 503):
                return None
            raise
        body = r.json()
        if r.status_code != 202 or time.monotonic() >= deadline:
            return body
        time.sleep(min(float(r.headers.get("Retry-After", "1")), 5.0))


def wait_for_study(client: Client, study_id: int, interval: float,
                   show_progress: bool = True, timeout_s: float | None = None
                   ) -> dict[str, Any]:
    """Poll a study until it reaches a final state (or ``timeout_s`` seconds pass), showing
    its progress on stderr: trials of ``max_trials``, or cost / wall time of its budget [s]
    without a trial limit; front size, hypervolume and cost.

    Returns:
        The study as last read.

    Raises:
        ApiError: the service refused or could not be reached.
    """
    t0 = time.monotonic()
    s = client.get(f"/studies/{study_id}")
    p = progress_of(s)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.fields[done]}"),
                  TextColumn("front {task.fields[front]}  HV {task.fields[hv]}  "
                             "cost {task.fields[cost]} s  {task.fields[state]}"),
                  TimeElapsedColumn(), console=err, disable=not show_progress) as progress:
        task = progress.add_task(f"study {study_id}", total=p.total or None, done="",
                                 front=0, hv="-", cost=0, state=s["state"])
        etag = None
        front_n = 0
        while True:
            r = client.send("GET", f"/studies/{study_id}/pareto",
                            headers={"If-None-Match": etag} if etag else {})
            if r.status_code == 200:
                etag = r.headers.get("ETag")
                front_n = len(r.json()["points"])
            p = progress_of(s)
            hv = s["hypervolume"]
            progress.update(task, completed=min(p.done, p.total) if p.total else p.done,
                            done=f"{p.done:.4g}/{p.total:.4g} {p.unit}", front=front_n,
                            hv=f"{hv:.4g}" if hv is not None else "-",
                            cost=f"{s['total_cost_s']:.3g}", state=s["state"])
            if s["state"] in FINAL:
                return s
            if timeout_s is not None and time.monotonic() - t0 > timeout_s:
                return s
            time.sleep(interval)
            s = client.get(f"/studies/{study_id}")


def _finish_watch(client: Client, study_id: int, interval: float) -> None:
    try:
        s = wait_for_study(client, study_id, interval)
    except ApiError as e:
        raise _api_fail(e) from None
    out.print(f"study {study_id} {s['state']}: {s['n_completed']} completed, "
              f"{s['n_failed']} failed, hypervolume {s['hypervolume']}"
              + (f"\nerror: {s['error']}" if s.get("error") else ""), highlight=False)
    raise typer.Exit(study_exit_code(s))


@app.command()
def watch(study_id: int, url: UrlOpt = None, api_key: KeyOpt = None,
          interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls.")]
          = 1.0) -> None:
    """Follow a study live until it ends; exit 0 when completed, 1 when failed or
    cancelled."""
    _finish_watch(Client(url, api_key), study_id, interval)


@app.command()
def delete(
    study_id: int,
    yes: YesOpt = False,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
) -> None:
    """Delete a study with its trials, results and events (a running study is cancelled
    first)."""
    if not yes and not typer.confirm(f"Delete study {study_id} and all its trials?"):
        raise typer.Exit(EXIT_FAILED)
    try:
        Client(url, api_key).delete(f"/studies/{study_id}")
    except ApiError as e:
        raise _api_fail(e) from None
    out.print(f"deleted study {study_id}", highlight=False)


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
        raise _fail(ValueError(f"--format must be csv or json, not {fmt!r}"), EXIT_BAD_INPUT)
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
        raise _api_fail(e) from None
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

