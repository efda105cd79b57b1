"""``xbar cost``: area, energy and latency of a network on one configuration (no accuracy)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

err = Console(stderr=True, soft_wrap=True)
out = Console()


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _config_params(config: Path | None, preset: str | None) -> dict[str, Any]:
    from simulator.cost.report import PRESETS

    params: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise _fail(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
        params.update(PRESETS[preset])
    if config is not None:
        try:
            data = json.loads(config.read_text())
        except OSError as e:
            raise _fail(f"cannot read config {str(config)!r}: {e.strerror or e}") from None
        except json.JSONDecodeError as e:
            raise _fail(f"config {str(config)!r} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise _fail(f"config {str(config)!r} must hold a JSON object of CrossbarConfig "
                        "fields.")
        params.update(data)
    return params


def _layers(network: str) -> tuple[list[Any], float | None]:
    """Crossbar layers and operations per image of a CSV file or a registered workload."""
    from simulator.cost.network import layer_shapes, operations, parse_network_csv

    path = Path(network)
    if path.suffix.lower() == ".csv" or path.is_file():
        try:
            text = path.read_text()
        except OSError as e:
            raise _fail(f"cannot read network {network!r}: {e.strerror or e}") from None
        try:
            rows = parse_network_csv(text, source=network)
        except ValueError as e:
            raise _fail(str(e)) from None
        return layer_shapes(rows), operations(rows)
    import simulator
    from simulator.mapping import layer_shapes as model_layers

    try:
        wl = simulator.get_workload(network)
    except ValueError as e:
        raise _fail(str(e)) from None
    shapes = model_layers(wl.model, wl.input_shape)
    ops = float(sum(2 * s.in_features * s.out_features * s.positions for s in shapes))
    return shapes, ops


def _table(report: dict[str, Any], elapsed_ms: float) -> Table:
    table = Table(title=f"hardware cost ({elapsed_ms:.1f} ms)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in report["area_mm2"].items():
        table.add_row(f"area {name} (mm²)", f"{value:.4g}")
    for name, value in report["dynamic_energy_uj"].items():
        table.add_row(f"dynamic energy {name} (µJ)", f"{value:.4g}")
    table.add_row("leakage energy per image (µJ)", f"{report['leakage']['energy_uj']:.4g}")
    for name, value in report["latency_us"].items():
        table.add_row(f"latency {name} (µs)", f"{value:.4g}")
    if report["tops_per_w"] is not None:
        table.add_row("TOPS/W (dynamic)", f"{report['tops_per_w']:.4g}")
        table.add_row("TOPS/W (NeuroSim: with leakage, x zeta)",
                      f"{report['tops_per_w_neurosim']:.4g}")
    return table


def cost(
    network: Annotated[str, typer.Option(
        help="NeuroSim network CSV (IFM h, w, c, kh, kw, cout, pool, stride per line) or a "
             "registered workload name.")],
    config: Annotated[Path | None, typer.Option(
        help="JSON file of CrossbarConfig fields (over the preset, if any).")] = None,
    preset: Annotated[str | None, typer.Option(
        help="Named configuration, e.g. neurosim-v1.4 (NeuroSim V1.4's RRAM defaults).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every figure as JSON.")] = False,
) -> None:
    """Area, dynamic and leakage energy, latency (pipelined and layer-by-layer) and TOPS/W, no
    accuracy."""
    from simulator.config import CrossbarConfig
    from simulator.cost import estimate
    from simulator.cost.report import cost_report

    params = _config_params(config, preset)
    start = time.perf_counter()
    try:
        cfg = CrossbarConfig.from_params(params)
    except ValueError as e:
        raise _fail(str(e)) from None
    layers, ops = _layers(network)
    try:
        hardware = estimate(cfg, layers)
    except ValueError as e:
        raise _fail(str(e)) from None
    report = cost_report(hardware, ops)
    elapsed_ms = (time.perf_counter() - start) * 1e3
    report["elapsed_ms"] = elapsed_ms
    if as_json:
        out.print_json(json.dumps(report))
    else:
        out.print(_table(report, elapsed_ms))
