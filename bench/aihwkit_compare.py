"""Side by side with IBM aihwkit 1.2.0: the same layers, tiles and noise, time and accuracy.

aihwkit is not a dependency of this project. It is built from its PyPI sdist in a separate
virtual environment (``docs/aihwkit-comparison.md`` has the recipe), and this file runs in two
interpreters:

1. ``.venv/bin/python bench/aihwkit_compare.py`` (the project's venv) writes the shared setup
   (5-bit weights, inputs, test data) to a temporary ``.pt`` file, runs *this same file* with
   ``$AIHWKIT_PYTHON`` (default ``/work/aihw/bin/python``) as
   ``$AIHWKIT_PYTHON bench/aihwkit_compare.py --aihwkit-part SETUP.pt``, which imports aihwkit
   (never at module level) and writes raw measurements to ``bench/results/aihwkit_raw.json``,
   then runs our simulator on the same setup and writes ``bench/results/aihwkit_compare.json``
   and ``.png``.
2. ``--skip-aihwkit`` reuses an existing ``aihwkit_raw.json`` (or records that aihwkit was not
   available); ``--quick`` cuts seeds, draws and repeats for a smoke run.

What is matched, per case:

* **Tiles.** Our ``rows x cols`` arrays hold ``rows`` inputs and ``cols / 2`` outputs (a
  differential column pair per weight); aihwkit's single-pair converter keeps ``g+`` and
  ``g-`` in one logical weight, so ``mapping.max_input_size = rows`` and
  ``mapping.max_output_size = cols / 2`` give both tools the same weights per tile.
* **Weights.** Every layer is quantized once (symmetric, per layer, 5 bits) and both tools get
  the same quantized model. Ours stores each weight in one 4-bit cell per column of the pair
  (``weight_bits=5, cell_bits=4``: 16 levels, exactly the quantized values); aihwkit programs
  them as continuous conductances in ``[g_off, g_on]`` (``SinglePairConductanceConverter``).
* **Programming noise.** Both: ``g' = max(g + σ_p (g_on - g_off) ε, 0)`` on each cell of the
  pair, once per programmed chip. aihwkit: ``StateIndependentNoiseModel`` with
  ``prog_coeff = [σ_p (g_on - g_off), 0, 0]`` and drift and 1/f noise switched off. (Its
  ``ReRamWan2022NoiseModel`` is state dependent; our model is the constant-σ simplification of
  it, so the matched runs use the constant σ on both sides.)
* **Read noise.** Ours: ``σ_r (g_on - g_off)`` per cell and read, on both cells of a pair, i.e.
  ``sqrt(2) σ_r`` of the largest weight per weight. aihwkit: ``forward.w_noise_type =
  ADDITIVE_CONSTANT``, ``w_noise = sqrt(2) σ_r`` with ``weight_scaling_omega = 1`` (weights
  normalized to their tile's largest).
* **Periphery.** ``ideal``: aihwkit ``inp_res = out_res = -1`` (no DAC/ADC quantization,
  no output bound); ours ``adc=False`` with 8-bit inputs. ``adc8``: aihwkit
  ``inp_res = out_res = 1/(2**8 - 2)`` with its default ``out_bound = 12`` and iterative
  bound management; ours 8-bit inputs applied at once (``dac_bits = 8``) and 8-bit ADCs over
  a range calibrated on clean training-set currents. aihwkit's ``out_noise`` is 0 and its
  drift compensation off in both.

Measured: relative RMS output error of single ``nn.Linear`` layers and top-1 accuracy of the
``digits-mlp`` and ``digits-cnn`` workloads (mean ± std over seeds, each the mean over
``DRAWS`` programmed chips), and the wall time of ``S`` noisy forward passes (aihwkit:
``program_analog_weights()`` and a forward per draw; ours: ``S`` draws programmed and read in
one batch), one thread each.

Layout: :mod:`bench.aihwkit_setup` (the plan and the metrics, imported by both interpreters),
:mod:`bench.aihwkit_side` (the aihwkit runs), :mod:`bench.aihwkit_ours` (the setup, our runs,
the comparison and the plot); this file is the entry point of both interpreters.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.aihwkit_setup import (  # noqa: E402
    AIHWKIT_BUILD,
    AIHWKIT_PYTHON,
    CELL_BITS,
    DEVICE_PATH,
    DEVICE_W_NOISE,
    G_OFF_US,
    G_ON_US,
    IO_BITS,
    LINEAR_BATCH,
    LINEAR_TILE,
    OUT_PATH,
    PLOT_PATH,
    RAW_PATH,
    RESULTS,
    TIMING_NOISE,
    WEIGHT_BITS,
    WORKLOAD_TILE,
)
from bench.aihwkit_side import aihwkit_part  # noqa: E402


def _run_aihwkit(setup: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """Run the aihwkit part in its interpreter; ``(raw, outcome)``."""
    if not Path(AIHWKIT_PYTHON).exists():
        return None, f"no aihwkit interpreter at {AIHWKIT_PYTHON}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "setup.pt"
        torch.save(setup, path)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        proc = subprocess.run(
            [AIHWKIT_PYTHON, __file__, "--aihwkit-part", str(path)],
            capture_output=True, text=True, env=env, check=False,
        )
    if proc.returncode != 0:
        return None, f"aihwkit part failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(RAW_PATH.read_text()), "ran"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aihwkit-part", type=Path, help="(internal) setup file to run on aihwkit")
    parser.add_argument("--skip-aihwkit", action="store_true",
                        help="reuse bench/results/aihwkit_raw.json")
    parser.add_argument("--quick", action="store_true", help="few seeds, draws and repeats")
    parser.add_argument("--devices-only", action="store_true",
                        help="only the device-preset comparison (aihwkit's Wan2022 model)")
    args = parser.parse_args()
    if args.aihwkit_part is not None:
        aihwkit_part(args.aihwkit_part, RAW_PATH)
        return
    # Imported only here: the aihwkit interpreter runs this file too (above) and has neither
    # the project's packages nor matplotlib.
    from bench import aihwkit_ours as ours

    setup = ours.build_setup(args.quick, args.devices_only)
    if args.skip_aihwkit:
        theirs = json.loads(RAW_PATH.read_text()) if RAW_PATH.exists() else None
        outcome = "reused aihwkit_raw.json" if theirs else "aihwkit not run"
    else:
        theirs, outcome = _run_aihwkit(setup)
    devices = _write_devices(setup, ours.device_compare(ours.device_part(setup),
                                                         (theirs or {}).get("wan2022")), outcome)
    for row in devices:
        other = row.get("aihwkit_wan2022_quantized", {})
        print(f"{row['workload']:>11} {row['ours_case']:>13}  ours {row['ours']['mean']:.4f}±"
              f"{row['ours']['std']:.4f}  aihwkit Wan2022 {other.get('mean', math.nan):.4f}±"
              f"{other.get('std', math.nan):.4f}")
    if args.devices_only:
        return
    mine = ours.our_part(setup)
    result = {
        "benchmark": "aihwkit_compare",
        "aihwkit_outcome": outcome,
        "aihwkit_build": AIHWKIT_BUILD,
        "aihwkit_version": (theirs or {}).get("aihwkit_version"),
        "aihwkit_torch_version": (theirs or {}).get("torch_version"),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "threads": 1,
        "quick": args.quick,
        "plan": {
            "noise_levels": setup["noise_levels"], "peripheries": setup["peripheries"],
            "seeds": setup["seeds"], "draws_per_seed": setup["draws"],
            "timing_draws": list(setup["timing_draws"]), "timing_noise": TIMING_NOISE,
            "timing_repeats": setup["repeats"], "linear_tile": LINEAR_TILE,
            "linear_batch": LINEAR_BATCH, "workload_tile": WORKLOAD_TILE,
            "weight_bits": WEIGHT_BITS, "cell_bits": CELL_BITS, "io_bits": IO_BITS,
            "g_on_us": G_ON_US, "g_off_us": G_OFF_US,
        },
        "clean_float_accuracy": {w["name"]: w["clean_float_accuracy"]
                                 for w in setup["workloads"]},
        **ours.compare(mine, theirs, setup),
        "ours_raw": mine,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUT_PATH.write_text(json.dumps(result, indent=2) + "\n")
    ours.plot(result, PLOT_PATH)
    print(f"aihwkit: {outcome}")
    for row in result["accuracy"]:
        other = row.get("aihwkit", {})
        print(f"{row['case']:>16} {row['periphery']:>5} p={row['prog_sigma']:.2f} "
              f"r={row['read_sigma']:.3f}  ours {row['ours']['mean']:.4f}±"
              f"{row['ours']['std']:.4f}  aihwkit {other.get('mean', math.nan):.4f}±"
              f"{other.get('std', math.nan):.4f}")
    for t in result["timing"]:
        print(f"{t['case']:>16} S={t['draws']:>2}  ours {t['ours_s'] * 1e3:8.2f} ms  aihwkit "
              f"{t.get('aihwkit_s', math.nan) * 1e3:8.2f} ms  "
              f"float {t['clean_float_s'] * 1e3:.3f} ms")


def _write_devices(setup: dict[str, Any], rows: list[dict[str, Any]], outcome: str
                   ) -> list[dict[str, Any]]:
    """Write the device-preset comparison to ``DEVICE_PATH``; returns ``rows``."""
    from simulator.params import DEVICE_PRESETS, WAN2022_G_MAX_US, WAN2022_PROG_COEFF_US

    RESULTS.mkdir(parents=True, exist_ok=True)
    DEVICE_PATH.write_text(json.dumps({
        "benchmark": "aihwkit_wan2022",
        "aihwkit_outcome": outcome,
        "aihwkit_model": ("ReRamWan2022NoiseModel() at its defaults (SinglePairConductance"
                          f"Converter g_max {WAN2022_G_MAX_US} uS, g_min 0), programming noise "
                          f"only (no drift), forward.w_noise {DEVICE_W_NOISE} additive "
                          "constant per weight, 8-bit inp_res/out_res"),
        "wan2022_coeff_us": list(WAN2022_PROG_COEFF_US),
        "ours_presets": {k: {"prog_sigma": p.prog_sigma, "read_sigma": p.read_sigma,
                             "prog_shape": list(p.prog_shape)}
                         for k, p in DEVICE_PRESETS.items()},
        "tile": list(setup["device_tile"]), "seeds": setup["device_seeds"],
        "draws_per_seed": setup["draws"], "weight_bits": WEIGHT_BITS, "cell_bits": CELL_BITS,
        "io_bits": IO_BITS, "g_on_us": G_ON_US, "g_off_us": G_OFF_US,
        "load_average": list(os.getloadavg()),
        "command": "nice -n 10 .venv/bin/python bench/aihwkit_compare.py --devices-only",
        "rows": rows,
    }, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
