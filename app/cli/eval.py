"""``xbar eval``: evaluate one crossbar configuration on a workload, locally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="Evaluate one crossbar configuration on a workload (no server needed).")
err = Console(stderr=True, soft_wrap=True)
out = Console()


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise _fail(f"cannot read config {str(path)!r}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise _fail(f"config {str(path)!r} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise _fail(f"config {str(path)!r} must hold a JSON object of CrossbarConfig fields.")
    return data


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise _fail(f"workload option {pair!r} must look like KEY=VALUE.")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


def _table(result: dict[str, Any]) -> Table:
    d = result["details"]
    table = Table(title=f"{d['workload']} @ fidelity {d['fidelity']:g} (seed {d['seed']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("accuracy", f"{result['accuracy']:.4f} ± {result['accuracy_std']:.4f} (std)")
    table.add_row("accuracy stderr", f"{result['accuracy_stderr']:.4f}")
    table.add_row("software accuracy", f"{d['software_accuracy']:.4f}")
    table.add_row("area (mm²)", f"{result['area_mm2']:.4g}")
    table.add_row("latency (µs)", f"{result['latency_us']:.4g}")
    table.add_row("energy (µJ)", f"{result['energy_uj']:.4g}")
    table.add_row("arrays", str(d["tiles"]))
    table.add_row("draws x test images", f"{d['n_draws']} x {d['n_test']}")
    table.add_row("IR-drop model", d["ir_drop"])
    table.add_row("cost (s)", f"{result['cost_s']:.2f}")
    return table


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise _fail(f"cannot read {what} file {str(path)!r}: {e.strerror or e}") from None


def _file_workload(model: Path | None, data: Path | None, model_format: str | None,
                   architecture: str | None, data_format: str | None) -> Any:
    """Workload from the user's local ``--model``/``--data`` files; errors name the file."""
    from simulator.errors import WorkloadError
    from simulator.workloads.files import file_workload, load_data, load_model

    if model is None or data is None:
        raise _fail("--model and --data go together.")
    model_bytes, data_bytes = _read_bytes(model, "model"), _read_bytes(data, "data")
    try:
        load_model(model_bytes, model_format, architecture)
    except WorkloadError as e:
        raise _fail(f"model file {str(model)!r}: {e}") from None
    try:
        load_data(data_bytes, data_format)
    except WorkloadError as e:
        raise _fail(f"data file {str(data)!r}: {e}") from None
    try:
        return file_workload(model_bytes, data_bytes, model_format=model_format,
                             architecture=architecture, data_format=data_format,
                             name=model.stem)
    except WorkloadError as e:
        raise _fail(f"model {str(model)!r} with data {str(data)!r}: {e}") from None


@app.callback(invoke_without_command=True)
def eval_command(
    workload: Annotated[str, typer.Option(help="Workload name (see GET /api/v1/workloads).")] = (
        "digits-cnn"
    ),
    config: Annotated[Path | None, typer.Option(
        help="JSON file of CrossbarConfig fields; missing fields take their defaults.")] = None,
    fidelity: Annotated[float, typer.Option(help="Fidelity in [0, 1].")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the Monte-Carlo draws.")] = 0,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o",
        help="Workload option KEY=VALUE (repeatable), e.g. retrain=true; data sets are read "
             "from $XBAR_DATA_DIR.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    model: Annotated[Path | None, typer.Option(
        help="Your model file (ONNX, or safetensors with --architecture); needs --data and "
             "replaces --workload.")] = None,
    data: Annotated[Path | None, typer.Option(
        help="Your data file (.npz with x_test, y_test[, x_calib, x_train, y_train], or a zip "
             "of CLASS/*.png folders).")] = None,
    model_format: Annotated[str | None, typer.Option(
        help="Model format override: onnx, safetensors (default: sniffed).")] = None,
    architecture: Annotated[str | None, typer.Option(
        help="Architecture of a safetensors state dict: vgg8, resnet20.")] = None,
    data_format: Annotated[str | None, typer.Option(
        help="Data format override: npz, images (default: sniffed).")] = None,
) -> None:
    """Evaluate accuracy (Monte-Carlo), area, latency and energy of one configuration."""
    import simulator  # here, not at the top: it loads torch, which `xbar --help` need not wait for

    params = _read_config(config)
    options = _parse_options(option or [])
    try:
        cfg = simulator.CrossbarConfig.from_params(params)
        plan = simulator.fidelity_plan(fidelity)
        wl = (_file_workload(model, data, model_format, architecture, data_format)
              if model is not None or data is not None
              else simulator.get_workload(workload, **options))
    except ValueError as e:
        raise _fail(str(e)) from None
    result = simulator.evaluate(cfg, wl, plan.fidelity, seed).to_dict()
    if as_json:
        out.print_json(json.dumps(result))
    else:
        out.print(_table(result))
