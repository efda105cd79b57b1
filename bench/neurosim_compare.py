"""Compare ``simulator.cost`` with DNN+NeuroSim V1.4 at its own defaults on VGG8 (and 5 others).

NeuroSim's numbers are its raw outputs in ``bench/results/neurosim_raw/<tag>.txt``, written by
``bench/neurosim_run.py`` (which records the NeuroSim commit, the ``Param.cpp`` edits and the
command line in each file's header). Ours come from :func:`simulator.cost.estimate` on the
same network (``NetWork_VGG8.csv``, read by :mod:`simulator.cost.network`) with the
``neurosim-v1.4`` preset changed as the run was.

Usage: ``python bench/neurosim_compare.py`` -> ``bench/results/neurosim_compare.json`` + PNG.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, ahead of bench/
from bench.neurosim_run import input_activity  # noqa: E402
from simulator.config import CrossbarConfig  # noqa: E402
from simulator.cost import estimate  # noqa: E402
from simulator.cost.network import (  # noqa: E402
    NEUROSIM_VGG8_CSV,
    layer_shapes,
    operations,
    parse_network_csv,
)
from simulator.cost.report import NEUROSIM_V14, cost_report  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE / "results"
RAW = RESULTS / "neurosim_raw"
TOLERANCE = 0.30
VGG8_CSV = NEUROSIM_VGG8_CSV

RUNS: dict[str, dict] = {
    "default": {},
    "cell2": {"cell_bits": 2},
    "sar": {"adc_type": "sar"},
    "mux16": {"cols_per_adc": 16},
    "n45": {"tech_node_nm": 45, "read_voltage_v": 0.51},
    "sub256": {"rows": 256, "cols": 256},
}
"""Tag -> our config changes, matching ``bench/neurosim_run.py``'s ``Param.cpp`` edits."""

_NUM = r"([-+0-9.eE]+)"
_SUMMARY = {
    "chip_area_um2": rf"ChipArea : {_NUM}um\^2",
    "array_area_um2": rf"Chip total CIM array : {_NUM}um\^2",
    "ic_area_um2": rf"Total IC Area on chip \(Global and Tile/PE local\): {_NUM}um\^2",
    "adc_area_um2": rf"Total ADC \(or S/As and precharger for SRAM\) Area on chip : {_NUM}um\^2",
    "accum_area_um2": rf"Total Accumulation Circuits .*? on chip : {_NUM}um\^2",
    "other_area_um2": rf"Other Peripheries \(e\.g\. decoders, .*?\) : {_NUM}um\^2",
    "clock_period_ns": rf"Chip clock period is: {_NUM}ns",
    "latency_ns": rf"Chip pipeline-system-clock-cycle \(per image\) is: {_NUM}ns",
    "dynamic_energy_pj": rf"Chip pipeline-system readDynamicEnergy \(per image\) is: {_NUM}pJ",
    "leakage_energy_pj": rf"Chip pipeline-system leakage Energy \(per image\) is: {_NUM}pJ",
    "buffer_energy_pj": rf"Chip pipeline-system buffer readDynamicEnergy \(per image\) is: "
    rf"{_NUM}pJ",
    "ic_energy_pj": rf"Chip pipeline-system ic readDynamicEnergy \(per image\) is: {_NUM}pJ",
    "adc_energy_pj": rf"ADC \(or S/As and precharger for SRAM\) readDynamicEnergy is : {_NUM}pJ",
    "accum_energy_pj": rf"Accumulation Circuits .*? readDynamicEnergy is : {_NUM}pJ",
    "other_energy_pj": rf"Other Peripheries .*? readDynamicEnergy is : {_NUM}pJ",
    "tops_per_w": rf"Energy Efficiency TOPS/W \(Pipelined Process\): {_NUM}",
    "runtime_s": rf"Total Run-time of NeuroSim: {_NUM} seconds",
}


def parse_log(text: str) -> dict:
    """Chip totals (after ``Summary``), per-layer speed-ups and tiles of a pipelined run."""
    summary = text[text.index("Summary") :]
    out = {key: float(re.search(rx, summary).group(1)) for key, rx in _SUMMARY.items()}
    out["layer_leakage_energy_pj"] = [
        float(v) for v in re.findall(rf"layer\d+'s leakageEnergy is: {_NUM}pJ", text)]
    out["layer_latency_ns"] = [
        float(v) for v in re.findall(rf"layer\d+'s readLatency is: {_NUM}ns", text)]
    for title, key in (("Speed-up of each layer", "speed_up"), ("# of tile used", "tiles")):
        block = text[text.index(title) : text.index("\n\n", text.index(title))]
        out[key] = [float(v) for v in re.findall(rf"layer\d+: {_NUM}", block)]
    out["command"] = [line[2:] for line in text.splitlines()[:2] if line.startswith("# ")]
    return out


def _cmp(ours: float, theirs: float) -> dict:
    ratio = ours / theirs
    return {"ours": ours, "neurosim": theirs, "ratio": ratio,
            "within_30pct": abs(ratio - 1.0) <= TOLERANCE}


@functools.cache
def trace_activity() -> tuple[float, ...]:
    """Per-layer input-bit activity of ``bench/neurosim_run.py``'s VGG8 traces."""
    rows = parse_network_csv(VGG8_CSV, source="NetWork_VGG8.csv")
    return tuple(input_activity([tuple(vars(r).values()) for r in rows]))


def compare(tag: str, log: dict) -> dict:
    rows = parse_network_csv(VGG8_CSV, source="NetWork_VGG8.csv")
    cfg = CrossbarConfig.from_params({**NEUROSIM_V14, **RUNS[tag]})
    activity = trace_activity()  # measured on the traces NeuroSim ran
    start = time.perf_counter()
    report = cost_report(estimate(cfg, layer_shapes(rows), input_activity=activity),
                         operations(rows))
    elapsed_ms = (time.perf_counter() - start) * 1e3
    area, energy = report["area_mm2"], report["dynamic_energy_uj"]
    headline = {
        "chip_area_mm2": _cmp(area["chip"], log["chip_area_um2"] * 1e-6),
        "cim_array_area_mm2": _cmp(area["cim_array"], log["array_area_um2"] * 1e-6),
        "adc_area_mm2": _cmp(area["adc"], log["adc_area_um2"] * 1e-6),
        "accumulation_area_mm2": _cmp(area["accumulation"], log["accum_area_um2"] * 1e-6),
        "other_periphery_area_mm2": _cmp(area["other_periphery"],
                                         log["other_area_um2"] * 1e-6),
        "dynamic_energy_uj": _cmp(energy["per_image"], log["dynamic_energy_pj"] * 1e-6),
        "adc_energy_uj": _cmp(energy["adc"], log["adc_energy_pj"] * 1e-6),
        "accumulation_energy_uj": _cmp(energy["accumulation"], log["accum_energy_pj"] * 1e-6),
        "other_energy_uj": _cmp(energy["other"], log["other_energy_pj"] * 1e-6),
        "latency_per_image_us": _cmp(report["latency_us"]["pipelined_per_image"],
                                     log["latency_ns"] * 1e-3),
        "tops_per_w": _cmp(report["tops_per_w_neurosim"], log["tops_per_w"]),
    }
    leakage = {
        "leakage_energy_uj": _cmp(report["leakage"]["energy_uj"],
                                  log["leakage_energy_pj"] * 1e-6),
        "per_layer": [
            {"name": row["name"], "ours_uj": row["leakage_energy_uj"],
             "neurosim_uj": theirs * 1e-6,
             "ratio": row["leakage_energy_uj"] / (theirs * 1e-6) if theirs else None,
             "ours_latency_us": row["latency_us"], "neurosim_latency_us": t_ns * 1e-3}
            for row, theirs, t_ns in zip(report["layers"], log["layer_leakage_energy_pj"],
                                         log["layer_latency_ns"], strict=True)
        ],
    }
    extra = {
        "interconnect_area_mm2": _cmp(area["interconnect"], log["ic_area_um2"] * 1e-6),
        "buffer_energy_uj": _cmp(energy["buffer"], log["buffer_energy_pj"] * 1e-6),
        "interconnect_energy_uj": _cmp(energy["interconnect"], log["ic_energy_pj"] * 1e-6),
    }
    return {
        "tag": tag,
        "our_config_changes": RUNS[tag],
        "neurosim_run": log["command"],
        "headline": headline,
        "within_30pct": f"{sum(c['within_30pct'] for c in headline.values())}/{len(headline)}",
        "leakage": leakage,
        "extra": extra,
        "speed_up_per_layer": {"ours": [r["speed_up"] for r in report["layers"]],
                               "neurosim": log["speed_up"]},
        "neurosim_tiles_per_layer": log["tiles"],
        "neurosim_clock_period_ns": log["clock_period_ns"],
        "neurosim_runtime_s": log["runtime_s"],
        "ours_ms": elapsed_ms,
    }


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [*runs[0]["headline"], "leakage_energy_uj"]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        rows = {**run["headline"], "leakage_energy_uj": run["leakage"]["leakage_energy_uj"]}
        ratios = [rows[n]["ratio"] for n in names]
        ax.bar([j + i * width for j in range(len(names))], ratios, width,
               label=f"{run['tag']} ({run['within_30pct']})")
    ax.axhspan(1 - TOLERANCE, 1 + TOLERANCE, color="green", alpha=0.12)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))])
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("ours / NeuroSim V1.4")
    ax.set_title("simulator.cost vs DNN+NeuroSim V1.4 on VGG8 (green: within 30 %; the 11 "
                 "headline figures and leakage energy)")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    runs = []
    for tag in RUNS:
        path = RAW / f"{tag}.txt"
        runs.append(compare(tag, parse_log(path.read_text())))
        print(f"{tag}: within 30 %: {runs[-1]['within_30pct']}, leakage ratio "
              f"{runs[-1]['leakage']['leakage_energy_uj']['ratio']:.3f}")
    out = {
        "description": (
            "simulator.cost against DNN+NeuroSim V1.4 (commit ac828e6) on VGG8 "
            "(NetWork_VGG8.csv) at NeuroSim's defaults with memcelltype = 2 (RRAM 1T1R): "
            "22 nm, 128x128, 1-bit cells, 5-bit MLSA ADC, 8 columns per ADC, 8-bit "
            "weights/inputs, pipeline + speedUpDegree 8; other runs change one parameter. "
            "Ratios are ours / NeuroSim; TOPS/W on both sides is NeuroSim's definition, "
            "ops / ((dynamic + leakage energy) * zeta) with its post-layout factor zeta = "
            "1.22. Leakage energy (beside the 11 headline figures) is NeuroSim's: tile "
            "leakage power times the time a layer's tiles wait for the slowest pipeline "
            "stage, so it follows both models' per-layer latencies. Our input-bit activity "
            "per layer is measured on the same traces."
        ),
        "neurosim_traces": "bench/neurosim_run.py write_traces (seeded; see its docstring)",
        "input_activity_per_layer": list(trace_activity()),
        "network_neurosim_csv": VGG8_CSV.split(),
        "tolerance": TOLERANCE,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "neurosim_compare.json").write_text(json.dumps(out, indent=2) + "\n")
    plot(runs, RESULTS / "neurosim_compare.png")


if __name__ == "__main__":
    main()
