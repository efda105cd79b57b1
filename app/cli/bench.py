"""``xbar bench optimizer``: the optimizer benchmark (the harness in ``bench/harness``).

The harness is benchmark plumbing, not an installed package (DESIGN.md: the library ships no
benchmark plumbing): the command imports ``bench.harness`` from the repository checkout the CLI
runs from (an editable install), see ``load_harness``.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(help="Benchmarks that write JSON + PNG results.", no_args_is_help=True)
out = Console()

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout ``app/`` lives in; its ``bench/harness`` is the benchmark harness."""


@app.callback()
def main() -> None:
    """Benchmarks that write JSON + PNG results (never run by the tests)."""


def parse_option(text: str) -> tuple[str, str, Any]:
    """``"method.key=value"`` -> ``(method, key, value)``; the value is read as JSON when it
    parses (``4``, ``true``, ``"x"``), else kept as the string.

    Raises:
        typer.BadParameter: If the text is not of that form.
    """
    head, sep, raw = text.partition("=")
    method, dot, key = head.strip().rpartition(".")
    if not sep or not dot or not method or not key or not raw.strip():
        raise typer.BadParameter(f"expected METHOD.KEY=VALUE, got {text!r}",
                                 param_hint="--option")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw.strip()
    return method, key.strip(), value


def load_harness(root: Path = REPO_ROOT) -> ModuleType:
    """Import ``bench.harness``: from ``sys.path`` when it is there (the repository root is the
    working directory or a script put it there), else from the checkout at ``root`` (appended
    to ``sys.path``, so installed packages keep precedence).

    Raises:
        typer.BadParameter: If neither has it (a non-editable install without the repository).
    """
    if importlib.util.find_spec("bench") is None:
        if not (root / "bench" / "harness" / "__init__.py").is_file():
            raise typer.BadParameter(
                f"the benchmark harness bench/harness is not under {root}: run from a "
                "repository checkout (pip install -e .)", param_hint="bench")
        sys.path.append(str(root))
    return importlib.import_module("bench.harness")


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v for item in values for v in item.split(",") if v]


@app.command()
def optimizer(
    quick: Annotated[bool, typer.Option(help="A few-minute run: 2 seeds, small budgets.")] = False,
    seeds: Annotated[int | None, typer.Option(help="Seeds per problem and method.")] = None,
    methods: Annotated[list[str] | None, typer.Option(
        help="Methods (repeat or comma-separate); default: all eight.")] = None,
    problems: Annotated[list[str] | None, typer.Option(
        help="Problems (repeat or comma-separate); default: branin-currin, momf-park, "
             "crossbar-digits.")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="A method option, METHOD.KEY=VALUE (repeatable), on top of "
                               "the benchmark's defaults, e.g. cf-mesmo.fidelity_filter=boca."
    )] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    init_units: Annotated[float | None, typer.Option(
        help="Shared initial design of this cost (full-evaluation units) for every method "
             "(BoTorch's MOMF protocol: 2); default: each method's own.")] = None,
    max_evals: Annotated[int | None, typer.Option(
        help="Evaluation cap of model-based runs (default 30).")] = None,
    regret_every: Annotated[int | None, typer.Option(
        help="Inference-regret scoring period in evaluations (default 5).")] = None,
    run_time_limit: Annotated[float | None, typer.Option(
        help="Wall-time cap of one run in seconds (default 300).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("bench/results"),
    name: Annotated[str, typer.Option(help="Base name of the JSON and PNG files.")] = "optimizer",
    retime: Annotated[bool, typer.Option(
        help="Only re-measure the suggest() timing of the existing <name>.json (its runs, "
             "settings and options are kept) and rewrite it.")] = False,
) -> None:
    """Hypervolume vs cumulative cost (median, IQR) of every method, and suggest() timing."""
    # Imported here, not at the top: they load torch and botorch, which `xbar --help` and the
    # other commands never need.
    from optimizer.errors import OptimizerError
    from optimizer.problems import available_problems
    from optimizer.suggest import available_methods

    harness = load_harness()
    settings_cls = harness.BenchSettings
    if retime:
        try:
            results = harness.retime(out_dir, name=name, progress=out.print)
        except OptimizerError as e:
            raise typer.BadParameter(str(e), param_hint="--retime") from e
        out.print(f"rewrote {out_dir / (name + '.json')}: {results['goals']['suggest_speed']}")
        return

    kw: dict = {"workers": workers}
    for key, value in (("init_units", init_units), ("max_evals", max_evals),
                       ("regret_every", regret_every), ("run_time_limit_s", run_time_limit)):
        if value is not None:
            kw[key] = value
    if seeds is not None:
        if seeds < 1:
            raise typer.BadParameter("must be >= 1", param_hint="--seeds")
        kw["seeds"] = seeds
    if (m := _split(methods)) is not None:
        unknown = sorted(set(m) - set(available_methods()))
        if unknown:
            raise typer.BadParameter(f"unknown method(s) {unknown}", param_hint="--methods")
        kw["methods"] = m
    if (p := _split(problems)) is not None:
        unknown = sorted(set(p) - set(available_problems()))
        if unknown:
            raise typer.BadParameter(f"unknown problem(s) {unknown}", param_hint="--problems")
        kw["problems"] = p
    if option:
        options = copy.deepcopy(settings_cls.quick().options if quick
                                else settings_cls().options)
        for text in option:
            method, key, value = parse_option(text)
            if method not in available_methods():
                raise typer.BadParameter(f"unknown method {method!r} in {text!r}",
                                         param_hint="--option")
            options.setdefault(method, {})[key] = value
        kw["options"] = options
    settings = settings_cls.quick(**kw) if quick else settings_cls(**kw)
    logging.basicConfig(level=logging.WARNING)
    results = harness.run_benchmark(settings, out_dir, name=name, progress=out.print)
    out.print(f"wrote {out_dir / (name + '.json')} and {out_dir / (name + '.png')} "
              f"in {results['wall_s']:.0f} s")
    for prob, s in results["summary"].items():
        out.print(f"[bold]{prob}[/bold] (max HV {s['max_hv']:.4f})")
        for method, ms in s["methods"].items():
            out.print(f"  {method:12s} cost->95% (inference) {ms['cost_to_95_inference']}  "
                      f"final HV evaluated {ms['final_hv_evaluated_median']}  "
                      f"suggest {ms['suggest_s_median']}")
