"""Simulator benchmark: Monte-Carlo throughput and accuracy vs noise on digits-cnn.

Writes ``bench/results/simulator.json`` and ``bench/results/simulator.png``.

* **Throughput**: wall time of the analog forward pass over the test images with ``S = 1, 8,
  32`` noisy draws read at once (programming included), relative to one clean analog pass
  (``S = 1``, no device noise) and to the float model.
* **Accuracy vs noise**: ``evaluate()`` while sweeping read-noise σ, programming σ, the
  stuck-at rate (SA0 = SA1) and ADC bits, every other parameter at its default.

Usage: ``python bench/simulator.py [--quick] [--plot-only]`` (``--quick``: fewer images and
sweep points; ``--plot-only``: redraw the PNG from the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import median_time  # noqa: E402
from simulator import CrossbarConfig, evaluate, get_workload  # noqa: E402
from simulator.analog import AnalogModel  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
QUIET = {"prog_sigma": 0.0, "read_sigma": 0.0, "saf_sa0": 0.0, "saf_sa1": 0.0}



def throughput(workload, n_images: int, repeats: int) -> dict[str, Any]:
    x = workload.x_test[:n_images]
    with torch.no_grad():
        t_float = median_time(lambda: workload.model(x), repeats)

    def analog_pass(config: CrossbarConfig, draws: int) -> float:
        model = AnalogModel(workload.model, config)
        model.calibrate(workload.x_calib)
        gen = torch.Generator().manual_seed(0)
        model.set_generator(gen)

        def run() -> None:
            with torch.no_grad():
                model.program(draws, gen)
                for chunk in model.chunks(n_images):
                    model(x[chunk])

        return median_time(run, repeats)

    t_clean = analog_pass(CrossbarConfig(**QUIET), 1)
    rows = []
    for draws in (1, 8, 32):
        t = analog_pass(CrossbarConfig(), draws)
        rows.append({"draws": draws, "seconds": t, "vs_clean_analog": t / t_clean,
                     "per_draw_vs_clean_analog": t / t_clean / draws, "vs_float": t / t_float})
    # The same 8 draws as a Python loop of single-draw passes, for comparison.
    t_loop = 8 * analog_pass(CrossbarConfig(), 1)
    return {"n_images": n_images, "float_s": t_float, "clean_analog_s": t_clean, "noisy": rows,
            "loop_8_single_draws_s": t_loop, "goal": "S=32 <= 8x one clean pass"}


SWEEPS: dict[str, tuple[str, list[float]]] = {
    "read_sigma": ("read_sigma", [0.0, 0.02, 0.05, 0.1, 0.2, 0.3]),
    "prog_sigma": ("prog_sigma", [0.0, 0.02, 0.05, 0.1, 0.2, 0.3]),
    "saf_rate": ("saf_sa0 = saf_sa1", [0.0, 0.002, 0.01, 0.02, 0.05, 0.1]),
    "adc_bits": ("adc_bits", [3, 4, 5, 6, 7, 8]),
}


def sweeps(workload, fidelity: float, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (label, values) in SWEEPS.items():
        points = values[::2] if quick else values
        rows = []
        for v in points:
            if key == "saf_rate":
                cfg = CrossbarConfig(saf_sa0=v, saf_sa1=v)
            else:
                cfg = CrossbarConfig.from_params({key: v})
            ev = evaluate(cfg, workload, fidelity, seed=0)
            rows.append({"value": v, "accuracy": ev.accuracy, "std": ev.accuracy_std,
                         "stderr": ev.accuracy_stderr, "cost_s": ev.cost_s})
            print(f"  {label}={v}: {ev.accuracy:.4f} ± {ev.accuracy_std:.4f} ({ev.cost_s:.1f} s)")
        out[key] = {"label": label, "points": rows}
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(22, 4))
    tp = result["throughput"]
    draws = [r["draws"] for r in tp["noisy"]]
    axes[0].bar([str(d) for d in draws], [r["vs_clean_analog"] for r in tp["noisy"]],
                color="tab:blue")
    axes[0].axhline(8, color="tab:red", ls="--", label="goal for S=32 (8x)")
    axes[0].set_xlabel("Monte-Carlo draws S")
    axes[0].set_ylabel("time / clean analog pass")
    axes[0].set_title(f"MC cost, {tp['n_images']} images")
    axes[0].legend()
    for ax, (key, sweep) in zip(axes[1:], result["sweeps"].items(), strict=True):
        pts = sweep["points"]
        ax.errorbar([p["value"] for p in pts], [p["accuracy"] for p in pts],
                    yerr=[p["std"] for p in pts], marker="o", capsize=3)
        ax.axhline(result["software_accuracy"], color="gray", ls=":", label="float model")
        ax.set_xlabel(sweep["label"])
        ax.set_ylabel("accuracy (mean ± std over draws)")
        ax.set_title(f"digits-cnn vs {key}")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and sweep points")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--plot-only", action="store_true",
                        help="redraw simulator.png from the existing simulator.json")
    args = parser.parse_args()
    if args.plot_only:
        plot(json.loads((RESULTS / "simulator.json").read_text()), RESULTS / "simulator.png")
        return
    torch.set_num_threads(args.threads)
    workload = get_workload("digits-cnn")
    n_images, repeats, fidelity = (100, 1, 0.3) if args.quick else (360, 3, 0.5)
    t0 = time.perf_counter()
    print("throughput ...")
    tp = throughput(workload, n_images, repeats)
    for r in tp["noisy"]:
        print(f"  S={r['draws']}: {r['seconds']:.3f} s = {r['vs_clean_analog']:.1f}x clean analog "
              f"pass ({tp['clean_analog_s']:.3f} s), {r['vs_float']:.0f}x float")
    print("accuracy sweeps ...")
    result = {
        "workload": "digits-cnn",
        "software_accuracy": workload.clean_accuracy(),
        "quick": args.quick,
        "sweep_fidelity": fidelity,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                    "load_avg_1min": os.getloadavg()[0]},
        "throughput": tp,
        "sweeps": sweeps(workload, fidelity, args.quick),
    }
    result["wall_s"] = time.perf_counter() - t0
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulator.json").write_text(json.dumps(result, indent=2))
    plot(result, RESULTS / "simulator.png")
    print(f"wrote {RESULTS / 'simulator.json'} and simulator.png in {result['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
