"""Tests of the NeuroSim-style parts of simulator.cost: MLSA ADC, pipeline speed-up and
duplication, NeuroSim network CSVs, the cost report and the wire segment resistance."""

from __future__ import annotations

import dataclasses
import math

import pytest

from simulator.config import CrossbarConfig
from simulator.cost import components as cmp
from simulator.cost import estimate, sensing
from simulator.cost import periphery as pp
from simulator.cost.floorplan import duplications, pipeline_speed_ups, speed_ups
from simulator.cost.network import (
    NEUROSIM_VGG8_CSV,
    layer_shapes,
    operations,
    parse_network_csv,
)
from simulator.cost.report import AREA_GROUPS, ENERGY_GROUPS, NEUROSIM_V14, cost_report
from simulator.cost.technology import segment_resistance_ohm, technology

VGG8 = NEUROSIM_VGG8_CSV


def _vgg8(**changes):
    rows = parse_network_csv(VGG8)
    cfg = CrossbarConfig.from_params({**NEUROSIM_V14, **changes})
    return estimate(cfg, layer_shapes(rows)), rows


def _p22(r: float) -> float:
    """NeuroSim's 22 nm LP current-mode column power per level [W] (GetColumnPower)."""
    if r < 4832:
        return -2.85373e-11 * r + 9.16744e-07
    if r < 379269:
        return -1.63133e-07 * math.log(r) + 2.1687e-06
    return -5.8712e-08 * math.log(r) + 8.64648e-07


def test_mlsa_hand_computed_22nm() -> None:
    """5-bit MLSA at 22 nm, 128 rows, column of 64 cells at 10 µS read at 0.55 V:
    area 31·(9·7.6·28 F² + 128·4W·12W/32), W = 40 nm; energy 31·(P(R') + P_ref)·t + E_sw with
    R' = R·0.5/0.55, P_ref = Σ_{i=1}^{29} P(R_i')/32, R_i = 1/(128·10 µS·(1 - i/32)) and the
    sensing time t = 8.02517e-15·12500 + 8.51803e-10 s at Rref[30] = 12.5 kΩ (the fit's
    linear piece, below the 12.7 kΩ capacitance threshold); latency t."""
    tech = technology(22)
    f = 22e-9
    r_col = 1 / (64 * 10e-6)  # 1562.5 Ω
    unit = cmp.mlsa_adc(tech, 5, r_col, 0.55, 128, 10e-6)
    # 9 single-NMOS cells (2 CPP x 28F) per level + 1/32 of a 128-cell reference column that
    # NeuroSim sizes with the 40 nm wire width as feature size (4W x 12W cells)
    w = 40e-9
    assert pp.mlsa_area(tech, 1, 32, 128) == pytest.approx(
        31 * (9 * 7.6 * 28 * f * f + 128 * 4 * w * 12 * w / 32)
    )
    k = 0.5 / 0.55
    p_ref = sum(_p22(k / (128 * 10e-6 * (1 - i / 32))) for i in range(1, 30)) / 32
    assert p_ref > 0.5 * _p22(r_col * k)  # the reference ladder is not negligible
    t_col = 8.02517e-15 * 12500 + 8.51803e-10
    e_sw = sensing.mlsa_switching_energy_j(22, 5, sensing.column_cap_f(22, 128, 1e5), 0.55)
    assert unit.energy_pj == pytest.approx((31 * (_p22(r_col * k) + p_ref) * t_col + e_sw) * 1e12)
    assert unit.latency_ns == pytest.approx(t_col * 1e9)


def test_mlsa_power_pieces_follow_neurosim_breakpoints() -> None:
    """Above 4832 Ω the log piece applies, above 379269 Ω the second log piece (45 nm)."""
    tech = technology(45)
    assert cmp.mlsa_column_power_w(tech, 1e4) == pytest.approx(
        -5.66235e-08 * math.log(1e4) + 8.27849e-07
    )
    assert cmp.mlsa_column_power_w(tech, 1e6) == pytest.approx(
        -4.32673e-08 * math.log(1e6) + 6.46111e-07
    )


def test_speed_up_follows_neurosim_rule_on_vgg8() -> None:
    """Pipeline factor: degree 8 is capped at 32/8 = 4, bound = 8, so (32/8)² = 16 for the
    32x32 layers, 4 for 16x16, 1 for 8x8 and the FC layers. Duplication (8 columns per weight,
    128x128 sub-arrays; novel-mapping PE 512, conventional tile 1024 / PE 512): layer1 27x1024
    -> 2 PEs x 4 sub-arrays = 8; layer2 128 channels x 1024 -> 4; layer3 4; layer4 256 rows ->
    2; layer5 2; layer6 512 rows -> 1; layer7 8192x8192 -> 1; layer8 1024x80 -> 2 PEs x 4
    sub-arrays = 8. Copies = dup · ceil(pipeline / dup): NeuroSim's printed
    16 16 4 4 2 1 1 8 (bench/results/neurosim_raw/default.txt), and 16 16 4 4 4 2 1 16 with
    256x256 sub-arrays (sub256.txt)."""
    shapes = layer_shapes(parse_network_csv(VGG8))
    assert duplications(shapes, 128, 128, 8) == [8, 4, 4, 2, 2, 1, 1, 8]
    assert pipeline_speed_ups(shapes, 8) == [16, 16, 4, 4, 1, 1, 1, 1]
    assert speed_ups(shapes, 8, 128, 128, 8) == [16, 16, 4, 4, 2, 1, 1, 8]
    assert speed_ups(shapes, 8, 256, 256, 8) == [16, 16, 4, 4, 4, 2, 1, 16]
    assert speed_ups(shapes, 2, 128, 128, 8) == [8, 4, 4, 2, 2, 1, 1, 8]
    assert speed_ups(shapes, 1, 128, 128, 8) == [1] * 8


def test_layers_without_kernel_are_mapped_conventionally() -> None:
    """Without ``kernel_area`` no layer uses the novel mapping: layer2 (1152x1024) then fills
    no PE twice, so its only copies are the pipeline's 16."""
    vgg8 = layer_shapes(parse_network_csv(VGG8))
    shapes = [dataclasses.replace(s, kernel_area=None) for s in vgg8]
    assert speed_ups(shapes, 8, 128, 128, 8)[1] == 16
    assert duplications(shapes, 128, 128, 8)[1] == 1
    with pytest.raises(ValueError, match="kernel_area"):
        dataclasses.replace(vgg8[1], kernel_area=5)  # 1152 rows are not 5 x channels


def test_pipelined_latency_is_at_most_layer_by_layer() -> None:
    """The pipeline's time per image is its slowest layer, never more than the sum."""
    for degree in (1, 4, 8):
        cost, _ = _vgg8(speed_up_degree=degree)
        layers = cost.breakdown["layers"]
        assert cost.latency_pipelined_us == pytest.approx(max(la["latency_us"] for la in layers))
        assert cost.latency_pipelined_us <= cost.latency_us


def test_duplication_changes_energy_by_at_most_the_buffer_and_interconnect_share() -> None:
    """Copies of a layer's weights do the same conversions: energy per image moves only
    through the data-movement parts (buffer + interconnect); area grows, latency drops."""
    one, _ = _vgg8(speed_up_degree=1)
    eight, _ = _vgg8(speed_up_degree=8)
    comp = one.breakdown["components"]
    movement = comp["buffer"]["energy_uj"] + comp["interconnect"]["energy_uj"]
    assert abs(eight.energy_uj - one.energy_uj) <= movement
    for name in ("array", "adc", "shift_add", "accumulation"):
        assert eight.breakdown["components"][name]["energy_uj"] == pytest.approx(
            comp[name]["energy_uj"]
        )
    assert eight.area_mm2 > one.area_mm2
    assert eight.latency_pipelined_us < one.latency_pipelined_us


def test_vgg8_operations_and_vectors_match_neurosim() -> None:
    """NeuroSim counts 1.2318e9 operations per image and (H - k + 1)² vectors per layer."""
    rows = parse_network_csv(VGG8)
    assert operations(rows) == 1231835136.0
    assert [r.vectors for r in rows] == [900, 900, 196, 196, 36, 36, 1, 1]
    shapes = layer_shapes(rows)
    assert [s.kind for s in shapes] == ["conv"] * 6 + ["linear"] * 2
    assert shapes[1].in_features == 128 * 9 and shapes[1].ifm_size == 32


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("32,32,3,3,3,128,0,1\n32,32,3,3\n", 2, "expected 8"),
        ("32,32,3,3,3,128,0,1\n\n8,8,x,3,3,16,0,1\n", 3, "integers"),
        ("32,32,0,3,3,128,0,1\n", 1, "ifm_c must be >= 1"),
        ("32,32,3,3,3,128,2,1\n", 1, "pool must be 0 or 1"),
        ("2,2,3,3,3,128,0,1\n", 1, "kernel is larger"),
    ],
)
def test_bad_network_csv_names_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ValueError, match=rf"net\.csv line {line}: .*{fragment}"):
        parse_network_csv(text, source="net.csv")


def test_empty_network_csv_is_refused() -> None:
    with pytest.raises(ValueError, match="no layers"):
        parse_network_csv("\n\n", source="net.csv")


def test_report_groups_cover_every_component_once() -> None:
    """Area groups partition the components; energy 'other' holds buffer + interconnect."""
    cost, rows = _vgg8()
    report = cost_report(cost, operations(rows))
    area_parts = [c for parts in AREA_GROUPS.values() for c in parts]
    assert sorted(area_parts) == sorted(cost.breakdown["components"])
    assert report["area_mm2"]["whitespace"] > 0  # bounding boxes exceed the blocks they hold
    assert report["area_mm2"]["chip"] == pytest.approx(
        sum(report["area_mm2"][g] for g in AREA_GROUPS)
    )
    energy = report["dynamic_energy_uj"]
    assert energy["per_image"] == pytest.approx(
        energy["adc"] + energy["accumulation"] + energy["other"]
    )
    assert set(ENERGY_GROUPS["other"]) >= {"buffer", "interconnect"}
    assert report["tops_per_w"] == pytest.approx(1231835136.0 / (cost.energy_uj * 1e6))
    assert len(report["layers"]) == 8 and report["layers"][0]["speed_up"] == 16


def test_sar_choice_uses_the_sar_model() -> None:
    """adc_type='sar' books NeuroSim's SAR area (482 + 182·(B-1) single transistors) per ADC,
    16 ADCs per sub-array, on every sub-array of the floorplan's tiles: 36 novel tiles of 9 PEs
    and 67 conventional tiles of 2x2 PEs, each PE 4x4 sub-arrays (9472 sub-arrays)."""
    cost, _ = _vgg8(adc_type="sar")
    f = 22e-9
    unit_um2 = 2 * 3.8 * 28 * f * f * 1e12 * ((269 + 4 * 109) + (209 + 4 * 73))
    sub_arrays = (36 * 9 + 67 * 4) * 16
    assert cost.breakdown["components"]["adc"]["area_mm2"] == pytest.approx(
        sub_arrays * 16 * unit_um2 * 1e-6
    )


def test_segment_resistance_hand_computed() -> None:
    """22 nm: 40 nm wire, AR 1.9, rho 2.97e-8 Ω·m with a 2.5 nm barrier:
    rho' = rho / (1 - (2·1.9·40 + 40)·2.5 / (1.9·40²)); R = rho'·12F / (40 nm · 76 nm)."""
    rho = 2.97e-8 / (1 - (2 * 1.9 * 40 + 40) * 2.5 / (1.9 * 40 * 40))
    expected = rho * 12 * 22e-9 / (40e-9 * 1.9 * 40e-9)
    assert segment_resistance_ohm(22, 12) == pytest.approx(expected)
    assert segment_resistance_ohm(22, 4) == pytest.approx(expected / 3)
    with pytest.raises(ValueError):
        segment_resistance_ohm(22, 0)
