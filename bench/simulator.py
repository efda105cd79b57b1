"""Simulator benchmark: Monte-Carlo cost against a clean pass and against the arithmetic bound.

Writes ``bench/results/simulator.json`` and ``bench/results/simulator.png``.

* **Per-draw cost** of the exact read-out (every slice column digitized per cycle,
  :mod:`simulator.readout`) for ``S = 1, 8, 32`` draws on ``digits-cnn`` and ``vgg8`` (32x32x3
  inputs), with the default configuration and with 2-bit cells + 4-bit DAC: the analog forward
  CPU time divided by ``S``, as a multiple of (a) one clean float torch pass over the same
  images and (b) the **bound** (CPU times, best of the repeats): per layer one float32
  product of the unrolled inputs repeated over the input cycles (``cycles·M x K``) with a
  ``K x out·columns-per-weight`` matrix, i.e. ``cycles x columns-per-weight`` clean-size
  products, timed here on the same inputs.
* **evaluate()** on ``vgg8``: wall time, CPU time (user + system of the process: less
  sensitive than wall time to a shared machine's load) and peak resident memory
  (``ru_maxrss`` of a fresh process per run) at fidelity 1 (exact read-out) and fidelity 0
  with the column-sum tier (``column_sum_below``), and the analytic moment tier
  (``analytic_below``).

Every timing runs on ``--threads`` intra-op threads (default 1), and the 1-minute load average
is recorded beside it (the machine is shared). Usage: ``nice -n 10 python bench/simulator.py
[--quick] [--vgg8-s32] [--plot-only]``; ``--per-draw-only [--vgg8-draws 1,8]`` re-measures
only the per-draw rows (CPU seconds) and merges them into the JSON; ``--eval-runs
analytic_moments,lowest_fidelity_exact --threads 2`` re-measures only those evaluate() runs and
merges them into the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import CrossbarConfig, get_workload  # noqa: E402
from simulator.analog_model import AnalogModel  # noqa: E402
from simulator.mapping import crossbar_layers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "2bit-cell-4bit-dac": {"cell_bits": 2, "dac_bits": 4},
}


def load() -> float:
    return os.getloadavg()[0]


def bound_seconds(
    model: torch.nn.Module, x: torch.Tensor, config: CrossbarConfig, repeats: int
) -> float:
    """CPU time of ``cycles x columns-per-weight`` clean-size products of every layer [s]."""
    analog = AnalogModel(model, config)
    inputs: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=n: inputs.__setitem__(n, i[0]))
        for n, m in crossbar_layers(analog.float_model)
    ]
    with torch.no_grad():
        analog.float_model(x)
    for h in hooks:
        h.remove()
    total = 0.0
    for name, layer in analog.layers.items():
        x3 = layer._unroll(inputs[name], 1)[0]  # M x K
        a = x3.repeat(config.input_cycles, 1).contiguous()
        b = torch.rand(x3.shape[1], layer.layout.weight_cols)
        out = torch.empty(a.shape[0], b.shape[1])
        total += _cpu_time(lambda a=a, b=b, out=out: torch.mm(a, b, out=out), repeats)
    return total


def _cpu_time(fn, repeats: int) -> float:
    """Fastest process CPU time of ``repeats`` calls after a warm-up [s] (user + system:
    on a shared machine less inflated by other processes than wall time)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return best


def per_draw(
    workload, config_name: str, n_images: int, draws: tuple[int, ...], repeats: int
) -> dict[str, Any]:
    config = CrossbarConfig(**CONFIGS[config_name])
    x = workload.x_test[:n_images]
    with torch.no_grad():
        t_clean = _cpu_time(lambda: workload.model(x), max(3, repeats))
    t_bound = bound_seconds(workload.model, x, config, max(3, repeats))
    model = AnalogModel(workload.model, config)
    model.calibrate(workload.x_calib)
    gen = torch.Generator().manual_seed(0)
    model.set_generator(gen)
    rows = []

    def run() -> None:
        with torch.no_grad():
            for chunk in model.chunks(n_images):
                model(x[chunk])

    for s in draws:
        t_program, t, wall = 0.0, 0.0, 0.0
        for d in model.draw_passes(s):  # programmed conductances bounded in memory
            t0 = time.perf_counter()
            model.program(d, gen)
            t_program += time.perf_counter() - t0
            runs = repeats + 1 if d * n_images <= 64 else 1  # a warm-up first when repeated
            w0 = time.perf_counter()
            t += _cpu_time(run, repeats) if runs > 1 else _once(run)[1]
            wall += (time.perf_counter() - w0) / runs
        row = {
            "draws": s,
            "cpu_s": t,
            "wall_s": wall,
            "program_s": t_program,
            "per_draw_s": t / s,
            "per_draw_vs_clean": t / s / t_clean,
            "per_draw_vs_bound": t / s / t_bound,
            "load_avg_1min": load(),
        }
        rows.append(row)
        print(
            f"  {workload.name} {config_name} S={s}: {t / s:.3f} s/draw = "
            f"{row['per_draw_vs_clean']:.0f}x clean, {row['per_draw_vs_bound']:.2f}x bound "
            f"(load {row['load_avg_1min']:.1f})",
            flush=True,
        )
    return {
        "workload": workload.name,
        "config": config_name,
        "n_images": n_images,
        "clean_s": t_clean,
        "bound_s": t_bound,
        "bound_products": config.input_cycles
        * config.slices
        * (2 if config.encoding == "differential" else 1),
        "rows": rows,
    }


def _save(result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulator.json").write_text(json.dumps(result, indent=2))


def _once(fn) -> tuple[float, float]:
    """``(wall, CPU)`` seconds of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


_CHILD = """
import json, resource, sys, time, torch
torch.set_num_threads({threads})
from simulator import CrossbarConfig, evaluate, get_workload
w = get_workload("vgg8", test_limit={test_limit})
cfg = CrossbarConfig(**{cfg!r})
t0, c0 = time.perf_counter(), time.process_time()
ev = evaluate(cfg, w, {fidelity}, seed=0)
print(json.dumps({{"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                  "cost_s": ev.cost_s,
                  "accuracy": ev.accuracy, "estimator": ev.details["estimator"],
                  "n_draws": ev.details["n_draws"], "n_test": ev.details["n_test"],
                  "ir_drop": ev.details["ir_drop"],
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


EVAL_RUNS = (
    "full_fidelity",
    "lowest_fidelity_column_sum",
    "lowest_fidelity_exact",
    "analytic_moments",
)
"""The ``evaluate()`` runs on vgg8 (``--eval-runs`` picks some)."""


def evaluate_runs(
    threads: int,
    test_limit: int,
    config_name: str,
    timeout_s: float | None = None,
    only: tuple[str, ...] = EVAL_RUNS,
) -> dict[str, Any]:
    """``evaluate()`` on vgg8 in fresh processes (peak RSS of each; ``timeout_s`` per run),
    the runs named in ``only``."""
    base = CONFIGS[config_name]
    runs = {
        "full_fidelity": (dict(base), 1.0),
        "lowest_fidelity_column_sum": ({**base, "column_sum_below": 0.1}, 0.0),
        "lowest_fidelity_exact": (dict(base), 0.0),
        "analytic_moments": ({**base, "analytic_below": 0.05}, 0.0),
    }
    runs = {k: v for k, v in runs.items() if k in only}
    out: dict[str, Any] = {"config": config_name, "test_limit": test_limit, "threads": threads}
    root = Path(__file__).resolve().parents[1]
    for key, (cfg, z) in runs.items():
        code = _CHILD.format(threads=threads, test_limit=test_limit, cfg=cfg, fidelity=z)
        before = load()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", code],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            out[key] = {"error": f"not finished within {timeout_s:.0f} s (killed)"}
            print(f"  evaluate vgg8 {key}: {out[key]}", flush=True)
            continue
        if proc.returncode != 0:
            out[key] = {"error": proc.stderr.strip().splitlines()[-1:]}
        else:
            out[key] = {
                **json.loads(proc.stdout.strip().splitlines()[-1]),
                "load_avg_1min": (before + load()) / 2,
                "threads": threads,
                "measured_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            }
        print(f"  evaluate vgg8 {key}: {out[key]}", flush=True)
    return out


def merge_eval_runs(args: argparse.Namespace, only: tuple[str, ...]) -> None:
    """Run the ``only`` evaluate() runs and merge them into the existing JSON (the other
    runs, per_draw and the rest are kept as measured before)."""
    result = json.loads((RESULTS / "simulator.json").read_text())
    print(f"evaluate() on vgg8: {', '.join(only)} ...", flush=True)
    new = evaluate_runs(
        args.threads, args.eval_test_limit, args.eval_config, args.eval_timeout, only
    )
    ev = result.setdefault("evaluate_vgg8", {})
    if (ev.get("config"), ev.get("test_limit")) != (new["config"], new["test_limit"]):
        ev = result["evaluate_vgg8"] = {}  # another setting: earlier runs do not compare
    ev.update(new)
    result.setdefault("machine", {})["load_avg_1min_rerun"] = load()
    _save(result)
    plot(result, RESULTS / "simulator.png")
    print(f"merged {', '.join(only)} into {RESULTS / 'simulator.json'}")


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.5))
    for series in result["per_draw"]:
        label = f"{series['workload']} / {series['config']}"
        draws = [r["draws"] for r in series["rows"]]
        axes[0].plot(draws, [r["per_draw_vs_bound"] for r in series["rows"]], "o-", label=label)
        axes[1].plot(draws, [r["per_draw_vs_clean"] for r in series["rows"]], "o-", label=label)
    axes[0].axhline(1.5, color="tab:red", ls="--", label="goal (1.5x bound)")
    axes[0].set_ylabel("per-draw time / bound")
    axes[1].set_ylabel("per-draw time / clean torch pass")
    axes[1].set_yscale("log")
    for ax in axes[:2]:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("Monte-Carlo draws S")
        ax.legend(fontsize=7)
    ev = result.get("evaluate_vgg8", {})
    keys = [k for k in ev if isinstance(ev[k], dict) and "wall_s" in ev[k]]
    axes[2].bar(keys, [ev[k]["wall_s"] for k in keys], color="tab:blue")
    for i, k in enumerate(keys):
        axes[2].text(
            i,
            ev[k]["wall_s"],
            f"{ev[k]['peak_rss_mib']:.0f} MiB",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axes[2].set_yscale("log")
    axes[2].set_ylabel("evaluate() wall time [s] (label: peak RSS)")
    axes[2].set_title(f"vgg8, {ev.get('config', '')}, {ev.get('test_limit', '')} test images")
    axes[2].tick_params(axis="x", labelrotation=15, labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument(
        "--vgg8-s32",
        action="store_true",
        help="S=1, 8, 32 on vgg8 with the default config too (default: S=1, 2)",
    )
    parser.add_argument("--eval-config", default="2bit-cell-4bit-dac", choices=list(CONFIGS))
    parser.add_argument("--eval-test-limit", type=int, default=4)
    parser.add_argument(
        "--eval-timeout",
        type=float,
        default=None,
        help="seconds allowed per evaluate() child (default: no limit)",
    )
    parser.add_argument(
        "--skip-per-draw",
        action="store_true",
        help="only the evaluate() runs (keeps per_draw from the JSON)",
    )
    parser.add_argument(
        "--eval-runs",
        default=",".join(EVAL_RUNS),
        help="comma-separated evaluate() runs; a subset is merged into the "
        "JSON's evaluate_vgg8 (the other runs and per_draw are kept)",
    )
    parser.add_argument(
        "--per-draw-only",
        action="store_true",
        help="only the per-draw rows, merged into the JSON (evaluate_vgg8 is kept)",
    )
    parser.add_argument(
        "--vgg8-draws",
        default=None,
        help="comma-separated S for vgg8 (every config; default: 1,8,32, and 1,2 for the "
        "default config unless --vgg8-s32)",
    )
    parser.add_argument(
        "--plot-only",
        action="store_true",
        help="redraw simulator.png from the existing simulator.json",
    )
    args = parser.parse_args()
    if args.plot_only:
        plot(json.loads((RESULTS / "simulator.json").read_text()), RESULTS / "simulator.png")
        return
    torch.set_num_threads(args.threads)
    only = tuple(k for k in args.eval_runs.split(",") if k)
    if set(only) - set(EVAL_RUNS):
        parser.error(f"--eval-runs: unknown {sorted(set(only) - set(EVAL_RUNS))}")
    if set(only) != set(EVAL_RUNS):
        merge_eval_runs(args, only)
        return
    t0 = time.perf_counter()
    series = []
    cnn = get_workload("digits-cnn")
    vgg = get_workload("vgg8")
    if args.skip_per_draw:
        series = json.loads((RESULTS / "simulator.json").read_text())["per_draw"]
    for name in CONFIGS if not args.skip_per_draw else ():
        series.append(
            per_draw(cnn, name, 50 if args.quick else 100, (1, 8, 32), 1 if args.quick else 3)
        )
    result: dict[str, Any] = {}
    vgg8_draws = None if args.vgg8_draws is None else tuple(map(int, args.vgg8_draws.split(",")))
    for name in CONFIGS if not args.skip_per_draw else ():
        draws = (1, 8, 32) if name != "default" or args.vgg8_s32 else (1, 2)  # ~1 min/draw
        series.append(per_draw(vgg, name, 1, vgg8_draws or draws, 1))
        if not args.per_draw_only:
            _save({"partial": True, "per_draw": series})
    if args.per_draw_only:
        result = json.loads((RESULTS / "simulator.json").read_text())
        result["per_draw"] = series
        result["per_draw_measured_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        result.setdefault("machine", {})["load_avg_1min_per_draw"] = load()
        _save(result)
        plot(result, RESULTS / "simulator.png")
        print(f"merged per_draw into {RESULTS / 'simulator.json'}")
        return
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "load_avg_1min_start": load(),
        },
        "clean_accuracy": {
            "digits-cnn": cnn.metadata["clean_accuracy"],
            "vgg8": vgg.metadata["clean_accuracy"],
        },
        "per_draw": series,
        "goal": "per-draw at S=32 <= 1.5x bound; lowest tier >= 10x cheaper than full on "
        "vgg8; analytic < 10 s on vgg8; full-fidelity vgg8 peak RSS < 4 GiB",
    }
    print("evaluate() on vgg8 ...", flush=True)
    result["evaluate_vgg8"] = evaluate_runs(
        args.threads, args.eval_test_limit, args.eval_config, args.eval_timeout
    )
    result["wall_s"] = time.perf_counter() - t0
    _save(result)
    plot(result, RESULTS / "simulator.png")
    print(f"wrote {RESULTS / 'simulator.json'} and simulator.png in {result['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
