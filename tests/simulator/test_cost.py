"""Tests of simulator.cost: hand-computed values, monotonic trends, breakdown consistency."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from simulator.cost import COMPONENTS, HardwareCost, LayerShape, delays, estimate, map_layer


@dataclasses.dataclass(frozen=True, kw_only=True)
class Cfg:
    """Stand-in with the fields of simulator.config.CrossbarConfig that the model reads."""

    rows: int = 128
    cols: int = 128
    cell_bits: int = 2
    weight_bits: int = 8
    input_bits: int = 8
    dac_bits: int = 1
    adc_bits: int = 6
    cols_per_adc: int = 8
    g_on_us: float = 40.0
    g_off_us: float = 4.0
    wire_r_ohm: float = 1.0
    tech_node_nm: int = 32
    clock_ghz: float = 1.0
    encoding: str = "differential"
    read_voltage_v: float = 0.2
    adc_type: str = "sar"
    speed_up_degree: int = 1


NET = [
    LayerShape("conv1", "conv", 27, 32, 256),
    LayerShape("conv2", "conv", 288, 64, 64),
    LayerShape("fc", "linear", 1024, 10),
]


def _cost(**changes) -> HardwareCost:
    return estimate(Cfg(**changes), NET)


def _comp(cost: HardwareCost, name: str, what: str) -> float:
    return cost.breakdown["components"][name][what]


def test_hand_computed_single_linear_layer() -> None:
    """40x5 linear layer, 32x32 arrays, 2-bit cells of 4-bit weights, differential, 22 nm:
    2 arrays, 80 conversions; ADC area, energy and latency and array area by hand."""
    cfg = Cfg(
        rows=32,
        cols=32,
        cell_bits=2,
        weight_bits=4,
        input_bits=2,
        dac_bits=1,
        adc_bits=4,
        cols_per_adc=4,
        g_on_us=10.0,
        g_off_us=2.0,
        tech_node_nm=22,
        read_voltage_v=0.55,
    )
    cost = estimate(cfg, [LayerShape("fc", "linear", 40, 5, 1)])
    layer = cost.breakdown["layers"][0]
    assert (layer["row_tiles"], layer["col_tiles"], layer["arrays"]) == (2, 1, 2)
    assert layer["adc_conversions"] == 2 * 2 * 20  # cycles x row tiles x used columns
    f = 22e-9
    # area follows NeuroSim's floorplan: the 40x20-cell matrix takes one conventional tile of
    # side max(2^ceil(log2 20), 4·32) = 128 cells, i.e. 2x2 PEs of 2x2 sub-arrays = 16 arrays
    assert _comp(cost, "array", "area_mm2") == pytest.approx(16 * 32 * 32 * 48 * f * f * 1e6)
    adc_unit_m2 = 2 * 3.8 * 28 * f * f * ((269 + 3 * 109) + (209 + 3 * 73))
    assert _comp(cost, "adc", "area_mm2") == pytest.approx(16 * 8 * adc_unit_m2 * 1e6)
    # 20 rows per tile at half activity; half the cells on, each cell in series with its
    # access transistor (0.25 / g_on = 25 kΩ)
    g_cell = 0.5 / (1e5 + 25e3) + 0.5 / (5e5 + 25e3)
    r_col = 1 / (0.5 * 20 * g_cell) * 0.5 / 0.55
    power = 0.538e-6 * 4 + 4.3753e-6 + 0.072341 * math.exp(-2.303 * math.log10(r_col))
    assert _comp(cost, "adc", "energy_uj") == pytest.approx(80 * power * 5e-9 * 1e6)
    # 2 input cycles x 4 mux steps, one synchronous clock each: the 1 GHz clock stretched to
    # NeuroSim's beta = 1.4 x (the slower of the word-line and mux select + the 5 ns SAR
    # conversion); the array read is inside the cycle
    select_ns = 1e9 * max(delays.word_line_delay_s(22, 32, 32, 1e5),
                          delays.mux_delay_s(22, 32, 32, 4, 1e5, 5e5)
                          + delays.mux_decoder_delay_s(22, 32, 32, 4, 1e5, 5e5))
    assert 0.05 < select_ns < 0.2  # the 22 nm decoder's sized driver: tens of ps
    assert _comp(cost, "adc", "latency_us") == pytest.approx(8 * 1.4 * (5 + select_ns) * 1e-3)
    assert _comp(cost, "array", "latency_us") == 0.0


def test_totals_equal_sum_of_components_and_of_layers() -> None:
    """area, energy and latency totals equal the sums over components and over layers."""
    cost = _cost()
    comps = cost.breakdown["components"]
    assert set(comps) == set(COMPONENTS)
    assert cost.area_mm2 == pytest.approx(sum(c["area_mm2"] for c in comps.values()))
    assert cost.energy_uj == pytest.approx(sum(c["energy_uj"] for c in comps.values()))
    assert cost.latency_us == pytest.approx(sum(c["latency_us"] for c in comps.values()))
    layers = cost.breakdown["layers"]
    assert cost.energy_uj == pytest.approx(sum(la["energy_uj"] for la in layers))
    assert cost.latency_us == pytest.approx(sum(la["latency_us"] for la in layers))
    assert sum(c["energy_share"] for c in comps.values()) == pytest.approx(1.0)
    assert cost.breakdown["adc_energy_share"] == pytest.approx(comps["adc"]["energy_share"])
    assert cost.breakdown["arrays"] == sum(la["arrays"] for la in layers)
    for key in COMPONENTS:
        for what in ("energy_uj", "latency_us"):
            per_layer = sum(la["components"][key][what] for la in layers)
            assert per_layer == pytest.approx(comps[key][what])


def test_breakdown_is_json_serializable() -> None:
    """The breakdown survives a JSON round trip unchanged."""
    cost = _cost()
    assert json.loads(json.dumps(cost.breakdown)) == cost.breakdown


def test_more_adc_bits_cost_more_adc_energy_area_and_latency() -> None:
    """Each extra ADC bit raises ADC energy, ADC area and latency."""
    costs = [_cost(adc_bits=b) for b in (3, 5, 7, 9)]
    for lo, hi in zip(costs, costs[1:], strict=False):
        assert _comp(hi, "adc", "energy_uj") > _comp(lo, "adc", "energy_uj")
        assert _comp(hi, "adc", "area_mm2") > _comp(lo, "adc", "area_mm2")
        assert hi.latency_us > lo.latency_us


def test_more_adc_sharing_saves_adc_area_and_costs_latency() -> None:
    """More columns per ADC: fewer ADCs (less ADC area), more mux steps (more latency)."""
    costs = [_cost(cols_per_adc=k) for k in (1, 4, 16, 64)]
    for lo, hi in zip(costs, costs[1:], strict=False):
        assert _comp(hi, "adc", "area_mm2") < _comp(lo, "adc", "area_mm2")
        assert hi.breakdown["adcs"] < lo.breakdown["adcs"]
        assert hi.latency_us > lo.latency_us


def test_smaller_node_is_smaller_and_cheaper() -> None:
    """Area and periphery energy shrink from 65 to 45 to 32 to 22 nm."""
    costs = [_cost(tech_node_nm=n) for n in (65, 45, 32, 22)]
    for big, small in zip(costs, costs[1:], strict=False):
        assert small.area_mm2 < big.area_mm2
        assert _comp(small, "shift_add", "energy_uj") < _comp(big, "shift_add", "energy_uj")


def test_larger_arrays_need_fewer_tiles() -> None:
    """More rows (or columns) per array means fewer arrays for the same network."""
    arrays = [_cost(rows=r).breakdown["arrays"] for r in (32, 64, 128, 256)]
    assert arrays == sorted(arrays, reverse=True) and arrays[0] > arrays[-1]
    arrays = [_cost(cols=c, cols_per_adc=4).breakdown["arrays"] for c in (32, 64, 128)]
    assert arrays == sorted(arrays, reverse=True) and arrays[0] > arrays[-1]


def test_weight_slicing_and_encoding_set_columns_per_weight() -> None:
    """8-bit weights: 4 two-bit cells; differential doubles them (7 magnitude bits per column,
    the pair carries the sign); offset adds a reference column per array; 1-bit cells need 7
    cells per column of a differential pair."""
    layer = LayerShape("fc", "linear", 100, 30)
    diff = map_layer(Cfg(), layer)
    off = map_layer(Cfg(encoding="offset"), layer)
    assert diff.cols_per_weight == 8 and diff.used_cols == 240 and diff.col_tiles == 2
    assert off.cols_per_weight == 4 and off.col_tiles == 1 and off.used_cols == 121
    one_bit = map_layer(Cfg(cell_bits=1), layer)
    assert one_bit.cols_per_weight == 14
    assert _cost(encoding="offset").breakdown["arrays"] < _cost().breakdown["arrays"]


def test_multibit_dac_shortens_latency() -> None:
    """A 4-bit DAC needs 2 input cycles instead of 8: latency falls, driver area grows."""
    serial, dac = _cost(dac_bits=1), _cost(dac_bits=4)
    assert dac.latency_us < serial.latency_us
    assert _comp(dac, "dac_driver", "area_mm2") > _comp(serial, "dac_driver", "area_mm2")
    assert dac.breakdown["assumptions"]["input_cycles"] == 2


def test_conv_positions_scale_energy_and_latency_linearly() -> None:
    """Doubling output positions of the only layer doubles its array energy and latency; the
    arrays stay, only NeuroSim's global buffer grows with the (larger) input map."""
    cfg = Cfg()
    one = estimate(cfg, [LayerShape("c", "conv", 144, 16, 100)])
    two = estimate(cfg, [LayerShape("c", "conv", 144, 16, 200)])
    assert _comp(two, "adc", "energy_uj") == pytest.approx(2 * _comp(one, "adc", "energy_uj"))
    assert _comp(two, "array", "latency_us") == pytest.approx(2 * _comp(one, "array", "latency_us"))
    for name in ("array", "adc", "shift_add", "accumulation", "dac_driver", "mux"):
        assert _comp(two, name, "area_mm2") == pytest.approx(_comp(one, name, "area_mm2"))
    assert _comp(two, "buffer", "area_mm2") > _comp(one, "buffer", "area_mm2")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"adc_bits": 0}, "adc_bits"),
        ({"rows": -4}, "rows"),
        ({"tech_node_nm": 28}, "tech_node_nm"),
        ({"encoding": "twos"}, "encoding"),
        ({"cols_per_adc": 256}, "cols_per_adc"),
        ({"dac_bits": 9}, "dac_bits"),
        ({"g_off_us": 50.0}, "g_off_us"),
        ({"clock_ghz": 0.0}, "clock_ghz"),
        ({"cols": 4, "cols_per_adc": 4}, "cols"),
    ],
)
def test_bad_config_raises_value_error_naming_field(changes: dict, field: str) -> None:
    """Invalid fields, nodes, encodings and unmappable layers raise a ValueError naming them."""
    with pytest.raises(ValueError, match=field):
        _cost(**changes)


def test_bad_layers_are_rejected() -> None:
    """An empty workload, an unknown kind and zero positions are ValueErrors."""
    with pytest.raises(ValueError, match="layers"):
        estimate(Cfg(), [])
    with pytest.raises(ValueError, match="kind"):
        LayerShape("x", "rnn", 4, 4)
    with pytest.raises(ValueError, match="positions"):
        LayerShape("x", "conv", 4, 4, 0)
    with pytest.raises(ValueError, match="input_activity"):
        estimate(Cfg(), NET, input_activity=0.0)


@pytest.mark.parametrize("encoding", ["differential", "offset"])
@pytest.mark.parametrize(("weight_bits", "cell_bits"), [(8, 1), (8, 2), (7, 2), (5, 4), (3, 2)])
def test_cost_slices_match_the_mapping(encoding: str, weight_bits: int, cell_bits: int) -> None:
    """The cost model charges exactly the cells per weight that the mapping programs
    (CrossbarConfig.slices), for both encodings."""
    from simulator.config import CrossbarConfig
    from simulator.cost.model import map_layer

    cfg = CrossbarConfig(weight_bits=weight_bits, cell_bits=cell_bits, encoding=encoding)
    m = map_layer(cfg, LayerShape("fc", "linear", 100, 10))
    assert m.slices == cfg.slices
