r"""Area, latency and energy of a DNN mapped onto ReRAM crossbars, in the style of NeuroSim.

Mapping (per layer, weights unrolled to ``in_features x out_features``):

* Each weight is sliced into ``ceil(weight_bits / cell_bits)`` cells. ``"differential"``
  encoding uses a column pair per slice; ``"offset"`` uses one column per slice and reserves
  one reference column per array (subtracted after the ADC).
* ``row_tiles = ceil(in_features / rows)``, ``col_tiles = ceil(out_features · columns per
  weight / usable columns)``; every array holds its own periphery.

Operation (per inference, per layer; arrays of a layer work in parallel, layers in sequence):

* ``cycles = ceil(input_bits / dac_bits)`` input cycles per output position; in each cycle
  every row of an array is driven at once and the ``cols_per_adc`` columns that share an ADC
  are converted one after another: ``positions · cycles · cols_per_adc`` read steps, each
  lasting one array read plus one ADC conversion.
* Every used column is converted once per cycle and shift-added; partial sums of row tiles,
  weight slices and the pair/reference columns are then combined by accumulators.
* Input and output activations (``input_bits`` each) pass through register buffers and an
  on-chip bus.
* ADCs are NeuroSim's multi-level sense amplifiers (``adc_type = "mlsa"``, its default) or
  SAR ADCs (``"sar"``).
* Pipeline (NeuroSim ``pipeline = true``): layers whose input map is large, and small
  matrices that fit several times in NeuroSim's PE / sub-arrays, get
  :func:`~simulator.cost.floorplan.speed_ups` copies of their arrays (area x copies,
  latency / copies, energy per image unchanged); ``latency_pipelined_us`` is the slowest
  layer, ``latency_us`` the sum.

Leakage, pooling/activation units, the global buffer, off-chip memory and weight programming
are not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from simulator.cost import components as cmp
from simulator.cost.floorplan import speed_ups
from simulator.cost.technology import INPUT_ACTIVITY, INTERCONNECT_BUS_BITS, technology
from simulator.tiling import TileLayout, column_plan, layout_for

COMPONENTS: tuple[str, ...] = (
    "array",
    "adc",
    "dac_driver",
    "mux",
    "shift_add",
    "accumulation",
    "buffer",
    "interconnect",
)
"""Component names of :attr:`HardwareCost.breakdown` ``["components"]``."""

ENCODINGS: tuple[str, ...] = ("differential", "offset")
ADC_TYPES: tuple[str, ...] = ("mlsa", "sar")


class CrossbarLike(Protocol):
    """The configuration fields the cost model reads (``simulator.config.CrossbarConfig``)."""

    rows: int
    cols: int
    cell_bits: int
    weight_bits: int
    input_bits: int
    dac_bits: int
    adc_bits: int
    cols_per_adc: int
    g_on_us: float
    g_off_us: float
    wire_r_ohm: float
    tech_node_nm: int
    clock_ghz: float
    encoding: str
    read_voltage_v: float
    adc_type: str
    speed_up_degree: int


@dataclass(frozen=True)
class LayerShape:
    """A matrix-vector layer of the workload, as seen by the crossbar (fields may be passed
    by position in this order)."""

    name: str
    """Layer name (for the per-layer breakdown)."""
    kind: str
    """``"linear"`` or ``"conv"``."""
    in_features: int
    """Unrolled input rows: ``in_features`` of a Linear, ``C_in · kh · kw`` of a Conv2d."""
    out_features: int
    """Output neurons / output channels."""
    positions: int = 1
    """Output spatial positions per inference (``H_out · W_out``; 1 for a Linear)."""
    ifm_size: int | None = None
    """Input feature-map side [pixels] for the pipeline speed-up; ``None``: the side of
    ``positions`` for a conv (stride 1, same padding), 1 for a Linear."""
    kernel_area: int | None = None
    """``kh · kw`` of a conv (1 for a Linear), which NeuroSim's novel mapping groups layers by
    (:mod:`simulator.cost.floorplan`); ``None``: unknown, the layer is mapped conventionally."""

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "conv"):
            raise ValueError(f"kind must be 'linear' or 'conv', got {self.kind!r} ({self.name}).")
        for field in ("in_features", "out_features", "positions"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive int, got {value!r} ({self.name}).")
        k = self.kernel_area
        if k is not None and (not isinstance(k, int) or k < 1 or self.in_features % k):
            raise ValueError(f"kernel_area must be a positive int dividing in_features, got {k!r} "
                             f"({self.name}).")


@dataclass(frozen=True, kw_only=True)
class HardwareCost:
    """Hardware cost of one inference of a workload on a crossbar configuration."""

    area_mm2: float
    """Chip area [mm²]: every array with its periphery, accumulators, buffers and bus."""
    latency_us: float
    """Latency of one inference [µs], layers in sequence (layer-by-layer), each layer sped
    up by its weight copies (:func:`speed_ups`)."""
    latency_pipelined_us: float
    """Time per image of the layer pipeline [µs]: the slowest layer's (sped-up) latency, as
    NeuroSim's ``pipeline = true`` reports it."""
    energy_uj: float
    """Dynamic energy of one inference [µJ]."""
    breakdown: dict[str, Any]
    """JSON-serializable detail: ``components`` (per component area/energy/latency and
    shares), ``layers`` (per layer), ``arrays``, ``adcs``, ``adc_energy_share``,
    ``assumptions``."""


def map_layer(config: CrossbarLike, layer: LayerShape) -> TileLayout:
    """Tile counts of a layer (see the module docstring): the mapping's own
    :func:`~simulator.tiling.layout_for`.

    Raises:
        MappingError: If one weight does not fit in an array's usable columns.
    """
    return layout_for(layer.name, layer.kind, layer.in_features, layer.out_features, config)


def _validate(config: CrossbarLike, layers: list[LayerShape]) -> None:
    positive = (
        "rows",
        "cols",
        "cell_bits",
        "weight_bits",
        "input_bits",
        "dac_bits",
        "adc_bits",
        "cols_per_adc",
    )
    for field in positive:
        value = getattr(config, field)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{field} must be a positive int, got {value!r}.")
    for field in ("g_on_us", "clock_ghz", "read_voltage_v"):
        value = getattr(config, field)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValueError(f"{field} must be a finite value > 0, got {value!r}.")
    if not 0 <= config.g_off_us < config.g_on_us:
        raise ValueError(f"g_off_us must be in [0, g_on_us), got {config.g_off_us!r}.")
    if config.cols_per_adc > config.cols:
        raise ValueError(f"cols_per_adc={config.cols_per_adc} exceeds cols={config.cols}.")
    if config.dac_bits > config.input_bits:
        raise ValueError(f"dac_bits={config.dac_bits} exceeds input_bits={config.input_bits}.")
    if config.adc_type not in ADC_TYPES:
        raise ValueError(f"adc_type must be one of {ADC_TYPES}, got {config.adc_type!r}.")
    if not isinstance(config.speed_up_degree, int) or config.speed_up_degree < 1:
        raise ValueError(f"speed_up_degree must be an int >= 1, got {config.speed_up_degree!r}.")
    if config.encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {config.encoding!r}.")
    technology(config.tech_node_nm)
    if not layers:
        raise ValueError("layers must hold at least one LayerShape.")


def estimate(
    config: CrossbarLike, layers: list[LayerShape], *, input_activity: float = INPUT_ACTIVITY
) -> HardwareCost:
    r"""Area, latency and energy of one inference of ``layers`` on ``config``.

    Args:
        config: Any object with the fields of :class:`CrossbarLike` (units: conductances in
            µS, clock in GHz, read voltage in V, node in nm).
        layers: The workload's crossbar layers, in execution order.
        input_activity: Mean fraction of input bits that are 1, in (0, 1].

    Returns:
        A :class:`HardwareCost`; its totals equal the sums of the component breakdown.

    Raises:
        ValueError: On an invalid configuration field, an unsupported node or encoding, an
            empty workload, or a layer whose weight does not fit in a row of cells.
    """
    _validate(config, layers)
    if not 0 < input_activity <= 1:
        raise ValueError(f"input_activity must be in (0, 1], got {input_activity!r}.")
    tech = technology(config.tech_node_nm)
    clock = config.clock_ghz
    v_r = config.read_voltage_v
    g_avg = 0.5 * (config.g_on_us + config.g_off_us) * 1e-6
    cycles = math.ceil(config.input_bits / config.dac_bits)
    n_adc = math.ceil(config.cols / config.cols_per_adc)
    steps_per_cycle = math.ceil(config.cols / n_adc)

    array = cmp.cell_array(tech, config.rows, config.cols, v_r, clock)
    drv = cmp.driver(tech, config.dac_bits)
    mux = cmp.column_mux(tech, config.cols, config.cols_per_adc)
    sa = cmp.adder_register(tech, config.adc_bits + config.input_bits, clock)
    buf = cmp.register_buffer(tech, clock, INTERCONNECT_BUS_BITS)
    e_wl = cmp.word_line_energy_pj(tech, config.cols)
    array_periphery_um2 = (
        array.area_um2
        + config.rows * drv.area_um2
        + mux.area_um2
        + n_adc * sa.area_um2
        + config.rows * config.input_bits * buf.area_um2
    )

    area = dict.fromkeys(COMPONENTS, 0.0)  # µm²
    energy = dict.fromkeys(COMPONENTS, 0.0)  # pJ
    latency = dict.fromkeys(COMPONENTS, 0.0)  # ns
    per_layer: list[dict[str, Any]] = []
    bits_moved: list[float] = []
    total_arrays = 0
    plan = column_plan(cols=config.cols, weight_bits=config.weight_bits,
                       cell_bits=config.cell_bits, encoding=config.encoding)
    copies = speed_ups(layers, config.speed_up_degree, config.rows, config.cols,
                       plan.cols_per_weight)
    for layer, dup in zip(layers, copies, strict=True):
        m = map_layer(config, layer)
        rows_per_tile = layer.in_features / m.row_tiles
        column_r = 1.0 / (input_activity * rows_per_tile * g_avg)
        if config.adc_type == "sar":
            adc = cmp.sar_adc(tech, config.adc_bits, column_r, v_r, clock)
        else:
            adc = cmp.mlsa_adc(
                tech, config.adc_bits, column_r, v_r, config.rows, config.g_on_us * 1e-6
            )
        n_terms = m.row_tiles * (m.cols_per_weight + m.ref_cols)
        acc_width = (
            config.adc_bits
            + config.input_bits
            + config.weight_bits
            + math.ceil(math.log2(m.row_tiles))
            + 1
        )
        acc = cmp.adder_register(tech, acc_width, clock)
        lanes = m.col_tiles * n_adc

        p = layer.positions
        reads = p * cycles  # input cycles per inference
        conversions = reads * m.row_tiles * m.used_cols
        steps = reads * steps_per_cycle
        row_drives = reads * layer.in_features * m.col_tiles
        bits = p * (layer.in_features + layer.out_features) * config.input_bits
        bits_moved.append(bits)

        la = {
            "array": m.arrays * array.area_um2,
            "adc": m.arrays * n_adc * adc.area_um2,
            "dac_driver": m.arrays * config.rows * drv.area_um2,
            "mux": m.arrays * mux.area_um2,
            "shift_add": m.arrays * n_adc * sa.area_um2,
            "accumulation": lanes * acc.area_um2 if n_terms > 1 else 0.0,
            "buffer": m.arrays * config.rows * config.input_bits * buf.area_um2,
            "interconnect": 0.0,
        }
        le = {
            "array": conversions * array.energy_pj,
            "adc": conversions * adc.energy_pj,
            "dac_driver": row_drives * (drv.energy_pj + input_activity * e_wl),
            "mux": conversions * mux.energy_pj,
            "shift_add": conversions * sa.energy_pj,
            "accumulation": p * layer.out_features * (n_terms - 1) * acc.energy_pj,
            "buffer": bits * buf.energy_pj,
            "interconnect": 0.0,
        }
        lt = {
            "array": steps * array.latency_ns,
            "adc": steps * adc.latency_ns,
            "dac_driver": 0.0,
            "mux": 0.0,
            "shift_add": reads * sa.latency_ns,
            "accumulation": p * math.ceil(math.log2(n_terms)) * acc.latency_ns,
            "buffer": bits * buf.latency_ns,
            "interconnect": 0.0,
        }
        la = {key: dup * value for key, value in la.items()}  # copies hold their periphery
        lt = {key: value / dup for key, value in lt.items()}  # copies split the positions
        for key in COMPONENTS:
            area[key] += la[key]
            energy[key] += le[key]
            latency[key] += lt[key]
        total_arrays += dup * m.arrays
        per_layer.append(
            {
                "name": layer.name,
                "kind": layer.kind,
                "arrays": dup * m.arrays,
                "speed_up": dup,
                "row_tiles": m.row_tiles,
                "col_tiles": m.col_tiles,
                "cells_per_weight": m.cols_per_weight,
                "utilization": layer.in_features
                * m.used_cols
                / (m.arrays * config.rows * config.cols),
                "adc_conversions": conversions,
                "area_mm2": sum(la.values()) * 1e-6,
                "energy_uj": sum(le.values()) * 1e-6,
                "latency_us": sum(lt.values()) * 1e-3,
                "components": {
                    key: {
                        "area_mm2": la[key] * 1e-6,
                        "energy_uj": le[key] * 1e-6,
                        "latency_us": lt[key] * 1e-3,
                    }
                    for key in COMPONENTS
                },
            }
        )

    # On-chip bus: an H-tree reaching every array (length ~ arrays x array pitch), each bit
    # travelling about one chip side.
    array_pitch_m = math.sqrt(array_periphery_um2 * 1e-12)
    core_side_m = math.sqrt(sum(area.values()) * 1e-12)
    lane = cmp.bus_wire(tech, total_arrays * array_pitch_m, clock, INTERCONNECT_BUS_BITS)
    hop = cmp.bus_wire(tech, core_side_m, clock, INTERCONNECT_BUS_BITS)
    area["interconnect"] = INTERCONNECT_BUS_BITS * lane.area_um2
    for entry, bits in zip(per_layer, bits_moved, strict=True):
        e_ic, t_ic = bits * hop.energy_pj, bits * hop.latency_ns
        energy["interconnect"] += e_ic
        latency["interconnect"] += t_ic
        entry["energy_uj"] += e_ic * 1e-6
        entry["latency_us"] += t_ic * 1e-3
        entry["components"]["interconnect"]["energy_uj"] = e_ic * 1e-6
        entry["components"]["interconnect"]["latency_us"] = t_ic * 1e-3

    total_area, total_energy, total_latency = (sum(d.values()) for d in (area, energy, latency))
    breakdown = {
        "components": {
            key: {
                "area_mm2": area[key] * 1e-6,
                "energy_uj": energy[key] * 1e-6,
                "latency_us": latency[key] * 1e-3,
                "area_share": area[key] / total_area,
                "energy_share": energy[key] / total_energy,
                "latency_share": latency[key] / total_latency,
            }
            for key in COMPONENTS
        },
        "layers": per_layer,
        "arrays": total_arrays,
        "adcs": total_arrays * n_adc,
        "adc_energy_share": energy["adc"] / total_energy,
        "assumptions": {
            "tech_node_nm": tech.node_nm,
            "input_activity": input_activity,
            "mean_cell_conductance_us": g_avg * 1e6,
            "input_cycles": cycles,
            "adcs_per_array": n_adc,
            "bus_bits": INTERCONNECT_BUS_BITS,
            "adc_type": config.adc_type,
            "speed_up_degree": config.speed_up_degree,
        },
    }
    return HardwareCost(
        area_mm2=total_area * 1e-6,
        latency_us=total_latency * 1e-3,
        latency_pipelined_us=max(entry["latency_us"] for entry in per_layer),
        energy_uj=total_energy * 1e-6,
        breakdown=breakdown,
    )
