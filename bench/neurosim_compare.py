"""Compare ``simulator.cost`` with DNN+NeuroSim V1.4 on the same network and parameters.

NeuroSim (CC BY-NC 4.0) is not part of this project. To reproduce, build its C++ inference
simulator outside the repository from github.com/neurosim/DNN_NeuroSim_V1.4 (commit ac828e6)
with these edits to ``Param.cpp``: ``memcelltype = 2`` (RRAM), ``SARADC = true``,
``pipeline = false``, ``speedUpDegree = 1``, ``novelMapping = false``, ``cellBit = 2`` and,
per run, ``technode``, ``levelOutput`` (2^adc_bits) and ``numColMuxed``. Feed it the network
of :data:`NETWORK` (its ``NetWork.csv`` format) with random weights in [-1, 1] and random
input bits (p = 0.5): ``main net.csv 8 8 128 128 weight0.csv input0.csv ...``, and save each
run's standard output as ``<logs>/<tag>.log``. This script only reads those logs.

Usage: ``python bench/neurosim_compare.py --logs DIR`` -> ``bench/results/neurosim_compare.json``.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

from simulator.cost import COMPONENTS, LayerShape, estimate
from simulator.cost.technology import CELL_HEIGHT_F, CELL_WIDTH_F

RESULTS = Path(__file__).parent / "results"

NETWORK = [
    # NeuroSim NetWork.csv rows: IFM H, IFM W, C_in, kh, kw, C_out, max-pool after, stride
    (16, 16, 3, 3, 3, 64, 0, 1),
    (16, 16, 64, 3, 3, 64, 1, 1),
    (8, 8, 64, 3, 3, 128, 1, 1),
    (1, 1, 2048, 1, 1, 256, 0, 1),
    (1, 1, 256, 1, 1, 10, 0, 1),
]

RUNS = {
    # tag: (tech node nm, adc bits, columns per ADC)
    "base22": (22, 5, 8),
    "n32": (32, 5, 8),
    "adc6": (22, 6, 8),
    "mux4": (22, 5, 4),
}

ROWS = COLS = 128
TOLERANCE = 0.30


@dataclass(frozen=True, kw_only=True)
class MatchedConfig:
    """Our configuration matched to NeuroSim's ``Param.cpp`` defaults and edits."""

    rows: int = ROWS
    cols: int = COLS
    cell_bits: int = 2
    weight_bits: int = 8
    input_bits: int = 8
    dac_bits: int = 1
    adc_bits: int = 5
    cols_per_adc: int = 8
    g_on_us: float = 10.0  # resistanceOn = 100 kΩ
    g_off_us: float = 10.0 / 17.0  # resistanceOff = 1.7 MΩ
    wire_r_ohm: float = 1.0
    tech_node_nm: int = 22
    clock_ghz: float = 1.0  # clkFreq = 1e9 (before NeuroSim's synchronous stretch)
    encoding: str = "offset"  # NeuroSim subtracts a reference (dummy) column
    read_voltage_v: float = 0.55


def layers() -> list[LayerShape]:
    out = []
    for n, (h, w, cin, kh, kw, cout, _pool, stride) in enumerate(NETWORK):
        if kh == 1 and h == 1:
            out.append(LayerShape(f"layer{n + 1}", "linear", cin, cout, 1))
        else:
            out.append(
                LayerShape(
                    f"layer{n + 1}", "conv", cin * kh * kw, cout, (h // stride) * (w // stride)
                )
            )
    return out


_NUM = r"([-+0-9.eE]+)"
_SUMMARY = {
    "chip_area_um2": rf"ChipArea : {_NUM}um\^2",
    "array_area_um2": rf"Chip total CIM array : {_NUM}um\^2",
    "ic_area_um2": rf"Total IC Area on chip \(Global and Tile/PE local\): {_NUM}um\^2",
    "adc_area_um2": rf"Total ADC \(or S/As and precharger for SRAM\) Area on chip : {_NUM}um\^2",
    "accum_area_um2": rf"Total Accumulation Circuits .*? on chip : {_NUM}um\^2",
    "other_area_um2": rf"Other Peripheries \(e\.g\. decoders, mux, switchmatrix, buffers, "
    rf"pooling and activation units\) : {_NUM}um\^2",
    "clock_period_ns": rf"Chip clock period is: {_NUM}ns",
    "latency_ns": rf"Chip layer-by-layer readLatency \(per image\) is: {_NUM}ns",
    "dynamic_energy_pj": rf"Chip total readDynamicEnergy is: {_NUM}pJ",
    "leakage_energy_pj": rf"Chip total leakage Energy is: {_NUM}pJ",
    "buffer_latency_ns": rf"Chip buffer readLatency is: {_NUM}ns",
    "buffer_energy_pj": rf"Chip buffer readDynamicEnergy is: {_NUM}pJ",
    "ic_latency_ns": rf"Chip ic readLatency is: {_NUM}ns",
    "ic_energy_pj": rf"Chip ic readDynamicEnergy is: {_NUM}pJ",
}
_BREAKDOWN = {
    "adc_latency_ns": rf"ADC \(or S/As and precharger for SRAM\) readLatency is : {_NUM}ns",
    "accum_latency_ns": rf"Accumulation Circuits .*? readLatency is : {_NUM}ns",
    "other_latency_ns": rf"Other Peripheries .*? readLatency is : {_NUM}ns",
    "adc_energy_pj": rf"ADC \(or S/As and precharger for SRAM\) readDynamicEnergy is : {_NUM}pJ",
    "accum_energy_pj": rf"Accumulation Circuits .*? readDynamicEnergy is : {_NUM}pJ",
    "other_energy_pj": rf"Other Peripheries .*? readDynamicEnergy is : {_NUM}pJ",
}


def parse_log(text: str) -> dict:
    """Totals, per-layer values and the floorplan from a NeuroSim V1.4 log."""
    summary_text = text[text.index("Summary") :]
    out = {key: float(re.search(rx, summary_text).group(1)) for key, rx in _SUMMARY.items()}
    for key, rx in _BREAKDOWN.items():
        out[key] = float(re.findall(rx, summary_text)[-1])
    layer_blocks = re.split(r"-+ Estimation of Layer \d+ -+", text[: text.index("Summary")])[1:]
    out["layers"] = []
    for n, block in enumerate(layer_blocks, start=1):
        entry = {
            "latency_ns": float(re.search(rf"readLatency is: {_NUM}ns", block).group(1)),
            "energy_pj": float(re.search(rf"readDynamicEnergy is: {_NUM}pJ", block).group(1)),
        }
        for key, rx in _BREAKDOWN.items():
            entry[key] = float(re.search(rx, block).group(1))
        entry["speed_up"] = float(
            re.search(rf"\nlayer{n}: {_NUM}", _section(text, "Speed-up")).group(1)
        )
        entry["tiles"] = float(
            re.search(rf"\nlayer{n}: {_NUM}", _section(text, "# of tile")).group(1)
        )
        out["layers"].append(entry)
    return out


def _section(text: str, title: str) -> str:
    line_end = text.index("\n", text.index(title))
    return text[line_end : text.index("\n-", line_end)]


def _cmp(ours: float, theirs: float) -> dict:
    ratio = ours / theirs if theirs else float("inf")
    return {
        "ours": ours,
        "neurosim": theirs,
        "ratio": ratio,
        "within_30pct": abs(ratio - 1.0) <= TOLERANCE,
    }


def compare(tag: str, node: int, adc_bits: int, cols_per_adc: int, log: dict) -> dict:
    cfg = MatchedConfig(tech_node_nm=node, adc_bits=adc_bits, cols_per_adc=cols_per_adc)
    cost = estimate(cfg, layers())
    comp = cost.breakdown["components"]

    def area_um2(*keys: str) -> float:
        return sum(comp[k]["area_mm2"] for k in keys) * 1e6

    def energy_pj(*keys: str) -> float:
        return sum(comp[k]["energy_uj"] for k in keys) * 1e6

    def latency_ns(*keys: str) -> float:
        return sum(comp[k]["latency_us"] for k in keys) * 1e3

    f = node * 1e-9
    subarray_um2 = ROWS * COLS * CELL_HEIGHT_F * CELL_WIDTH_F * f * f * 1e12
    n_sub_ns = log["array_area_um2"] / subarray_um2
    n_ours = cost.breakdown["arrays"]
    other_area = ("dac_driver", "mux", "buffer")
    per_sub = {
        "array": _cmp(area_um2("array") / n_ours, log["array_area_um2"] / n_sub_ns),
        "adc": _cmp(area_um2("adc") / n_ours, log["adc_area_um2"] / n_sub_ns),
        "accumulation (shift_add + accumulation)": _cmp(
            area_um2("shift_add", "accumulation") / n_ours, log["accum_area_um2"] / n_sub_ns
        ),
        "other (dac_driver + mux + buffer)": _cmp(
            area_um2(*other_area) / n_ours, log["other_area_um2"] / n_sub_ns
        ),
        "interconnect": _cmp(area_um2("interconnect") / n_ours, log["ic_area_um2"] / n_sub_ns),
        "sum of components": _cmp(
            cost.area_mm2 * 1e6 / n_ours,
            sum(
                log[k]
                for k in (
                    "array_area_um2",
                    "adc_area_um2",
                    "accum_area_um2",
                    "other_area_um2",
                    "ic_area_um2",
                )
            )
            / n_sub_ns,
        ),
        "chip (NeuroSim: tile bounding boxes + global buffer)": _cmp(
            cost.area_mm2 * 1e6 / n_ours, log["chip_area_um2"] / n_sub_ns
        ),
    }
    energy = {
        "total dynamic": _cmp(cost.energy_uj * 1e6, log["dynamic_energy_pj"]),
        "adc (+ array, as NeuroSim books it)": _cmp(
            energy_pj("adc", "array"), log["adc_energy_pj"]
        ),
        "accumulation (shift_add + accumulation)": _cmp(
            energy_pj("shift_add", "accumulation"), log["accum_energy_pj"]
        ),
        "other (dac_driver + mux + buffer + interconnect)": _cmp(
            energy_pj("dac_driver", "mux", "buffer", "interconnect"), log["other_energy_pj"]
        ),
        "buffer": _cmp(energy_pj("buffer"), log["buffer_energy_pj"]),
        "interconnect": _cmp(energy_pj("interconnect"), log["ic_energy_pj"]),
    }
    latency = {
        "total": _cmp(cost.latency_us * 1e3, log["latency_ns"]),
        "adc": _cmp(latency_ns("adc"), log["adc_latency_ns"]),
        "accumulation (shift_add + accumulation)": _cmp(
            latency_ns("shift_add", "accumulation"), log["accum_latency_ns"]
        ),
        "other (array + buffer + interconnect)": _cmp(
            latency_ns("array", "buffer", "interconnect"), log["other_latency_ns"]
        ),
        "buffer": _cmp(latency_ns("buffer"), log["buffer_latency_ns"]),
        "interconnect": _cmp(latency_ns("interconnect"), log["ic_latency_ns"]),
    }
    # NeuroSim duplicates small layers inside a tile ("speed-up"); undo it per layer so the
    # ADC latency compares the same number of conversions.
    per_layer_adc = []
    for ours_layer, ns_layer in zip(cost.breakdown["layers"], log["layers"], strict=True):
        ours_adc = ours_layer["components"]["adc"]["latency_us"] * 1e3
        entry = _cmp(ours_adc, ns_layer["adc_latency_ns"] * ns_layer["speed_up"])
        entry["layer"] = ours_layer["name"]
        entry["neurosim_speed_up"] = ns_layer["speed_up"]
        per_layer_adc.append(entry)
    checks = [*per_sub.values(), *energy.values(), *latency.values()]
    return {
        "tag": tag,
        "params": {"tech_node_nm": node, "adc_bits": adc_bits, "cols_per_adc": cols_per_adc},
        "our_config": dataclass_dict(cfg),
        "subarrays": {"ours": n_ours, "neurosim": round(n_sub_ns, 2)},
        "neurosim_clock_period_ns": log["clock_period_ns"],
        "neurosim_leakage_energy_pj": log["leakage_energy_pj"],
        "area_per_subarray_um2": per_sub,
        "energy_pj": energy,
        "latency_ns": latency,
        "adc_latency_per_layer_undoing_duplication_ns": per_layer_adc,
        "within_30pct": f"{sum(c['within_30pct'] for c in checks)}/{len(checks)}",
        "ours_breakdown_shares": {
            k: {s: comp[k][s] for s in ("area_share", "energy_share", "latency_share")}
            for k in COMPONENTS
        },
    }


def dataclass_dict(obj: object) -> dict:
    return {k: getattr(obj, k) for k in obj.__dataclass_fields__}  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", type=Path, required=True, help="folder with <tag>.log files")
    args = parser.parse_args()
    runs = []
    for tag, (node, adc_bits, mux) in RUNS.items():
        path = args.logs / f"{tag}.log"
        if not path.exists():
            runs.append({"tag": tag, "status": f"no NeuroSim log at {path}"})
            continue
        runs.append(compare(tag, node, adc_bits, mux, parse_log(path.read_text())))
        print(f"{tag}: within 30 %: {runs[-1]['within_30pct']}")
    out = {
        "description": (
            "simulator.cost against DNN+NeuroSim V1.4 (commit ac828e6, RRAM 1T1R, SAR ADC, "
            "layer-by-layer, no pipelining, conventional mapping) on the same 5-layer CNN with "
            "random weights and input bits (p = 0.5). Ratios are ours / NeuroSim."
        ),
        "network_neurosim_csv": [list(row) for row in NETWORK],
        "neurosim_param_edits": {
            "memcelltype": 2,
            "SARADC": True,
            "pipeline": False,
            "speedUpDegree": 1,
            "novelMapping": False,
            "cellBit": 2,
            "cli": "main net.csv 8 8 128 128 <weight/input csv per layer>",
        },
        "tolerance": TOLERANCE,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "neurosim_compare.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
