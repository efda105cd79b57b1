"""Tests of the NeuroSim V1.4 area port (simulator.cost.gates/periphery/wires/chip_area and the
floorplan's tile counts): hand-derived gate and block areas, NeuroSim's own printed figures for
the six saved runs, and the bounding-box invariant chip >= sum of its parts."""

from __future__ import annotations

import re

import pytest

from bench.neurosim_compare import RAW, RUNS
from simulator.config import CrossbarConfig
from simulator.cost import estimate
from simulator.cost import periphery as pp
from simulator.cost.chip_area import SubArrayDesign, sub_array_parts
from simulator.cost.floorplan import floorplan
from simulator.cost.gates import enlarge_size, gate_area
from simulator.cost.network import NEUROSIM_VGG8_CSV, layer_shapes, parse_network_csv
from simulator.cost.report import NEUROSIM_V14, cost_report
from simulator.cost.technology import technology
from simulator.cost.wires import repeater_cell, xy_bus_area

F = 22e-9
TECH = technology(22)
"""The saved NeuroSim runs (bench/neurosim_run.py) and our matching config changes."""
SUMMARY = {
    "chip": r"ChipArea : ([-+0-9.eE]+)um\^2",
    "cim_array": r"Chip total CIM array : ([-+0-9.eE]+)um\^2",
    "interconnect": r"Total IC Area on chip \(Global and Tile/PE local\): ([-+0-9.eE]+)um\^2",
    "adc": r"Total ADC \(or S/As and precharger for SRAM\) Area on chip : ([-+0-9.eE]+)um\^2",
    "accumulation": r"Total Accumulation Circuits .*? on chip : ([-+0-9.eE]+)um\^2",
    "other_periphery": r"Other Peripheries \(e\.g\. decoders, .*?\) : ([-+0-9.eE]+)um\^2",
}


def test_gate_area_folds_like_neurosim() -> None:
    """22 nm, pn = 791.9/600.2 = 1.3194: a minimum inverter (2F / 2.64F) fits the 28F cell
    unfolded, 2 CPP = 7.6F wide; a NAND2 shares one diffusion, 2·7.6F - 3.8F = 11.4F; the
    76F/100.3F repeater inverter folds 9 times (P max 0.569·20.9F = 11.9F) -> 10 CPP = 38F."""
    pn = 791.9 / 600.2
    assert TECH.pn_size_ratio == pytest.approx(pn)
    h, w = gate_area("inv", 1, 2 * F, pn * 2 * F, 28 * F, F)
    assert (h, w) == (pytest.approx(28 * F), pytest.approx(7.6 * F))
    _, w = gate_area("nand", 2, 4 * F, pn * 2 * F, 28 * F, F)
    assert w == pytest.approx(11.4 * F)
    _, w = gate_area("inv", 1, 76 * F, pn * 76 * F, 28 * F, F)
    assert w == pytest.approx(38 * F)
    assert repeater_cell(TECH) == (pytest.approx(28 * F), pytest.approx(38 * F))
    wn, wp = enlarge_size(2 * F, pn * 2 * F, 28 * F, F)  # widened to the unfolded maximum
    assert wn + wp == pytest.approx((28 - 3.5 - 3.6) * F)


def test_block_areas_hand_computed() -> None:
    """DFF: 12 inverters, 91.2F x 28F. Adder: 9 NAND2 of the enlarged 11.4F x 28F cell per bit.
    MLSA (16 ADCs, 32 levels, 128 rows): 31·16·(9·7.6F·28F + 128·4W·12W/32) with W = 40 nm,
    the wire width NeuroSim uses as the reference column's feature size. Adder tree over 4
    inputs of 21 bits: 2·21 + 1·22 = 64 full adders."""
    h, w = pp.dff_cell(TECH)
    assert (h, w) == (pytest.approx(28 * F), pytest.approx(91.2 * F))
    nand = 11.4 * F * 28 * F
    assert pp.adder_area(TECH, 5, 3) == pytest.approx(9 * 5 * 3 * nand)
    wire = 40e-9
    mlsa = 31 * 16 * (9 * 7.6 * 28 * F * F + 128 * 4 * wire * 12 * wire / 32)
    assert pp.mlsa_area(TECH, 16, 32, 128) == pytest.approx(mlsa)
    assert pp.adder_tree(TECH, 4, 21, 1) == pytest.approx(9 * 64 * nand)


def test_sub_array_and_bus_match_neurosim_internals() -> None:
    """At NeuroSim's defaults its 128x128 sub-array box is 118.2587 µm x 288.0698 µm, its
    three level shifters take 1281.425 µm² each, and the chip's 1089-bit X-Y bus over the
    11 x 10 grid of 2331.071 µm tiles 9.745442e6 µm² (values printed by NeuroSim's own
    ``SubArray``/``LevelShifter``/``XYBus`` objects, commit ac828e6)."""
    d = SubArrayDesign(rows=128, cols=128, cols_per_adc=8, adc_levels=32, sar=False,
                       cols_per_weight=8, cell_bits=1, input_cycles=8, input_bits=8,
                       r_on_ohm=100e3, r_off_ohm=1.7e6)
    parts, height, width = sub_array_parts(TECH, d)
    assert height == pytest.approx(118.2587e-6, rel=1e-6)
    assert width == pytest.approx(288.0698e-6, rel=1e-6)
    assert parts.box == pytest.approx(height * width)
    assert pp.level_shifter_area(TECH, 128) == pytest.approx(1281.425e-12, rel=1e-6)
    assert xy_bus_area(TECH, 11, 10, 1089, 2331.071e-6, 2331.071e-6, 4) == pytest.approx(
        9.745442e-6, rel=1e-6)


def test_floorplan_tiles_match_neurosim() -> None:
    """Tiles per layer as NeuroSim prints them ("# of tile used"): 2 8 4 8 8 8 64 1 with
    128x128 sub-arrays (36 novel-mapped + 67 conventional), 1 4 2 2 4 4 16 1 with 256x256."""
    shapes = layer_shapes(parse_network_csv(NEUROSIM_VGG8_CSV))
    plan = floorplan(shapes, 8, 128, 128, 8)
    assert [r * c for r, c in plan.tiles] == [2, 8, 4, 8, 8, 8, 64, 1]
    assert (plan.tiles_nm, plan.tiles_cm) == (36, 67)
    assert (plan.pe_nm, plan.tile_cm, plan.pe_cm, plan.num_pe_nm) == (512, 1024, 512, 9)
    plan = floorplan(shapes, 8, 256, 256, 8)
    assert [r * c for r, c in plan.tiles] == [1, 4, 2, 2, 4, 4, 16, 1]


@pytest.mark.parametrize("tag", list(RUNS))
def test_area_figures_equal_neurosim_printed(tag: str) -> None:
    """All six printed area figures of each saved NeuroSim run (bench/results/neurosim_raw)
    are reproduced to NeuroSim's printed precision (6 digits; 45 nm exercises the switch
    matrix's linear-region sizing, 256x256 the floorplan's larger tiles)."""
    text = (RAW / f"{tag}.txt").read_text()
    text = text[text.index("Summary"):]
    theirs = {k: float(re.search(rx, text).group(1)) * 1e-6 for k, rx in SUMMARY.items()}
    cfg = CrossbarConfig.from_params({**NEUROSIM_V14, **RUNS[tag]})
    area = cost_report(estimate(cfg, layer_shapes(parse_network_csv(NEUROSIM_VGG8_CSV))))[
        "area_mm2"]
    for key, value in theirs.items():
        assert area[key] == pytest.approx(value, rel=1e-5), key


@pytest.mark.parametrize(
    "changes",
    [{}, {"rows": 64, "cols": 256}, {"adc_type": "sar", "adc_bits": 7}, {"dac_bits": 4},
     {"speed_up_degree": 1}, {"cols_per_adc": 1}, {"tech_node_nm": 65, "cell_bits": 4}],
)
def test_chip_area_is_at_least_the_sum_of_its_parts(changes: dict) -> None:
    """The chip's bounding boxes hold every block: chip area = blocks + whitespace, whitespace
    >= 0, and each layer's tiles add up to no more than the chip."""
    cfg = CrossbarConfig.from_params({**NEUROSIM_V14, **changes})
    cost = estimate(cfg, layer_shapes(parse_network_csv(NEUROSIM_VGG8_CSV)))
    comps = cost.breakdown["components"]
    parts = sum(c["area_mm2"] for name, c in comps.items() if name != "whitespace")
    assert comps["whitespace"]["area_mm2"] >= 0
    assert cost.area_mm2 >= parts
    assert cost.area_mm2 == pytest.approx(parts + comps["whitespace"]["area_mm2"])
    assert sum(la["area_mm2"] for la in cost.breakdown["layers"]) <= cost.area_mm2
