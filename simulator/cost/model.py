r"""Area, latency and energy of a DNN mapped onto ReRAM crossbars, in the style of NeuroSim.

Mapping (per layer, weights unrolled to ``in_features x out_features``):

* Each weight is sliced into ``ceil(weight_bits / cell_bits)`` cells. ``"differential"``
  encoding uses a column pair per slice; ``"offset"`` uses one column per slice and reserves
  one reference column per array (subtracted after the ADC).
* ``row_tiles = ceil(in_features / rows)``, ``col_tiles = ceil(out_features · columns per
  weight / usable columns)``.
* Area is NeuroSim V1.4's (:mod:`simulator.cost.chip_area`): its floorplan packs the layers
  into tiles of PEs of sub-arrays (:func:`~simulator.cost.floorplan.floorplan`), every
  sub-array, PE, tile and the chip-level blocks (global buffer, X-Y bus, accumulator,
  max-pool, ReLU) laid out gate by gate; ``whitespace`` is the bounding boxes' slack.

Operation (per inference, per layer; arrays of a layer work in parallel, layers in sequence):

* ``cycles = ceil(input_bits / dac_bits)`` input cycles per output position; in each cycle
  every row of an array is driven at once and the ``cols_per_adc`` columns that share an ADC
  are converted one after another: ``positions · cycles · cols_per_adc`` read steps, one
  synchronous clock each (:mod:`simulator.cost.timing`).
* Energy follows NeuroSim V1.4 per event: MLSA sensing with its switching energy and the
  driven word lines (:mod:`simulator.cost.sensing`), the word-line switch matrix, shift-adds
  per array and an adder tree over the row tiles (:mod:`simulator.cost.digital`); the input
  activity may differ per layer (NeuroSim measures it on its traces).
* Latency is NeuroSim's synchronous cycle count: sensing (split by the copies), tile and
  global register-file buffers and bus transfers (not split), times the clock stretched to
  NeuroSim's sensing cycle ``β·(t_select + t_ADC + t_encoder)``
  (:func:`~simulator.cost.timing.clock_period_ns`).
* Input and output activations (``input_bits`` each) pass through register buffers and an
  on-chip bus.
* ADCs are NeuroSim's multi-level sense amplifiers (``adc_type = "mlsa"``, its default) or
  SAR ADCs (``"sar"``).
* Pipeline (NeuroSim ``pipeline = true``): layers whose input map is large, and small
  matrices that fit several times in NeuroSim's PE / sub-arrays, get
  :func:`~simulator.cost.floorplan.speed_ups` copies of their arrays (tiles x
  ``ceil(pipeline / dup)``, sensing latency / copies, energy per image unchanged);
  ``latency_pipelined_us`` is the slowest layer, ``latency_us`` the sum.

* Leakage (:mod:`simulator.cost.leakage`): NeuroSim's gate leakage of each tile, charged
  while a layer's tiles wait for the slowest pipeline stage (or for the other layers), kept
  apart from the dynamic energy.

Off-chip memory, weight programming and the energy of pooling/activation units are not
modelled (their area is).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from simulator.cost import components as cmp
from simulator.cost.chip_area import component_areas
from simulator.cost.digital import (
    adder_tree_energy_j,
    shift_add_energy_j,
    wl_switch_matrix_energy_j,
)
from simulator.cost.floorplan import floorplan, speed_ups
from simulator.cost.leakage import leakage_breakdown
from simulator.cost.sensing import column_resistance_ohm
from simulator.cost.technology import INPUT_ACTIVITY, INTERCONNECT_BUS_BITS, technology
from simulator.cost.timing import clock_period_ns, layer_cycles
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
    "whitespace",
)
"""Component names of :attr:`HardwareCost.breakdown` ``["components"]`` (``whitespace``: area
only, the layout slack of NeuroSim's sub-array and tile bounding boxes)."""

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
    """Chip area [mm²] as NeuroSim V1.4's ``ChipArea``: its tiles' bounding boxes plus the
    global buffer, bus, accumulator, max-pool and ReLU (:mod:`simulator.cost.chip_area`)."""
    latency_us: float
    """Latency of one inference [µs], layers in sequence (layer-by-layer), each layer's
    sensing sped up by its weight copies (:func:`speed_ups`)."""
    latency_pipelined_us: float
    """Time per image of the layer pipeline [µs]: the slowest layer's (sped-up) latency, as
    NeuroSim's ``pipeline = true`` reports it."""
    energy_uj: float
    """Dynamic energy of one inference [µJ]."""
    leakage_energy_uj: float
    """Leakage energy per image [µJ] as NeuroSim V1.4 books it (not in :attr:`energy_uj`):
    tiles leaking while their layer waits for the pipeline's slowest stage, or while the other
    layers run (:mod:`simulator.cost.leakage`)."""
    breakdown: dict[str, Any]
    """JSON-serializable detail: ``components`` (per component area/energy/latency and
    shares), ``layers`` (per layer, with ``leakage_energy_uj`` / ``leakage_power_uw``),
    ``arrays``, ``adcs``, ``adc_energy_share``, ``leakage`` (chip ``energy_uj``, ``power_uw``),
    ``assumptions``."""

    @property
    def total_energy_uj(self) -> float:
        """Dynamic plus leakage energy per image [µJ] (what NeuroSim's TOPS/W divides by)."""
        return self.energy_uj + self.leakage_energy_uj


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


def _layer_activities(input_activity: float | Sequence[float], n_layers: int) -> list[float]:
    """One input-bit activity per layer from a scalar or a per-layer sequence."""
    values = ([input_activity] * n_layers if isinstance(input_activity, int | float)
              else list(input_activity))
    if len(values) != n_layers:
        raise ValueError(f"input_activity has {len(values)} values for {n_layers} layers.")
    for value in values:
        if not (isinstance(value, int | float) and 0 < value <= 1):
            raise ValueError(f"input_activity must be in (0, 1], got {value!r}.")
    return [float(v) for v in values]


def estimate(
    config: CrossbarLike,
    layers: list[LayerShape],
    *,
    input_activity: float | Sequence[float] = INPUT_ACTIVITY,
) -> HardwareCost:
    r"""Area, latency and energy of one inference of ``layers`` on ``config``.

    Args:
        config: Any object with the fields of :class:`CrossbarLike` (units: conductances in
            µS, clock in GHz, read voltage in V, node in nm).
        layers: The workload's crossbar layers, in execution order.
        input_activity: Mean fraction of input bits that are 1, in (0, 1]: one value, or
            one per layer (NeuroSim measures it per input vector on its traces).

    Returns:
        A :class:`HardwareCost`; its totals equal the sums of the component breakdown.

    Raises:
        ValueError: On an invalid configuration field, an unsupported node or encoding, an
            empty workload, or a layer whose weight does not fit in a row of cells.
    """
    _validate(config, layers)
    activities = _layer_activities(input_activity, len(layers))
    tech = technology(config.tech_node_nm)
    clock = config.clock_ghz
    v_r = config.read_voltage_v
    g_on, g_off = config.g_on_us * 1e-6, config.g_off_us * 1e-6
    g_avg = 0.5 * (g_on + g_off)
    cycles = math.ceil(config.input_bits / config.dac_bits)
    n_adc = math.ceil(config.cols / config.cols_per_adc)
    steps_per_cycle = math.ceil(config.cols / n_adc)

    drv = cmp.driver(tech, config.dac_bits)
    mux = cmp.column_mux(tech, config.cols_per_adc)
    t_add_ns = 1.0 / clock  # one shift-add or accumulator step per clock
    buf = cmp.register_buffer(tech, clock, INTERCONNECT_BUS_BITS)
    e_wl = cmp.word_line_energy_pj(tech, config.cols, 1.0 / g_on)

    def e_shift_add_pj(cells_per_weight: int) -> float:
        """Shift-adds of one array over one input cycle [pJ] (``SubArray.cpp``, parallel
        read): ``n_adc`` units merge the weight's cells (``shiftAddWeight``, ``cells - 1``
        steps per weight) and the input cycles (``shiftAddInput``, one step per weight)."""
        per_adc = math.ceil(steps_per_cycle / cells_per_weight)
        energy = 0.0
        if cells_per_weight > 1:
            energy += (cells_per_weight - 1) * per_adc * shift_add_energy_j(
                tech.node_nm, config.adc_bits, cells_per_weight)
        if cycles > 1:
            energy += per_adc * shift_add_energy_j(
                tech.node_nm, config.adc_bits + cells_per_weight, cycles)
        return 1e12 * n_adc * energy

    def partial_sum_bits(cells_per_weight: int) -> int:
        """Width of an array's shift-added output (NeuroSim ``numBitSubarrayOutput``)."""
        return (config.adc_bits + config.input_bits + (cells_per_weight - 1) * config.cell_bits
                + 1)

    def e_switch_matrix_pj(active_rows: float) -> float:
        """Bit-serial word-line switch matrix of one array over one input cycle [pJ]."""
        return 1e12 * wl_switch_matrix_energy_j(tech.node_nm, config.rows, active_rows,
                                                steps_per_cycle, v_r)

    energy = dict.fromkeys(COMPONENTS, 0.0)  # pJ
    latency = dict.fromkeys(COMPONENTS, 0.0)  # ns
    per_layer: list[dict[str, Any]] = []
    bits_moved: list[float] = []
    total_arrays = 0
    plan = column_plan(cols=config.cols, weight_bits=config.weight_bits,
                       cell_bits=config.cell_bits, encoding=config.encoding)
    copies = speed_ups(layers, config.speed_up_degree, config.rows, config.cols,
                       plan.cols_per_weight)
    # Latency: NeuroSim's synchronous cycle count per layer (simulator.cost.timing)
    chip_plan = floorplan(layers, config.speed_up_degree, config.rows, config.cols,
                          plan.cols_per_weight)
    cycles_ns = layer_cycles(config, layers, chip_plan, copies, plan.cols_per_weight)
    for layer, dup, activity, cyc in zip(layers, copies, activities, cycles_ns, strict=True):
        m = map_layer(config, layer)
        rows_per_tile = layer.in_features / m.row_tiles
        column_r = column_resistance_ohm(activity * rows_per_tile, g_on, g_off)
        if config.adc_type == "sar":
            adc = cmp.sar_adc(tech, config.adc_bits, column_r, v_r, clock)
        else:
            adc = cmp.mlsa_adc(
                tech, config.adc_bits, column_r, v_r, config.rows, config.g_on_us * 1e-6
            )
        n_terms = m.row_tiles * (m.cols_per_weight + m.ref_cols)

        p = layer.positions
        reads = p * cycles  # input cycles per inference
        conversions = reads * m.row_tiles * m.used_cols
        row_drives = reads * layer.in_features * m.col_tiles
        bits = p * (layer.in_features + layer.out_features) * config.input_bits
        bits_moved.append(bits)

        le = {
            # NeuroSim (SubArray.cpp, parallel read): each driven word line pulses once per
            # column-mux step; the bit-line charge is inside the ADC's column power
            "array": row_drives * activity * steps_per_cycle * e_wl,
            "adc": conversions * adc.energy_pj,
            "dac_driver": (
                reads * m.arrays * e_switch_matrix_pj(activity * rows_per_tile)
                if config.dac_bits == 1
                else row_drives * drv.energy_pj
            ),
            "mux": conversions * mux.energy_pj,
            "shift_add": reads * m.arrays * e_shift_add_pj(m.cols_per_weight),
            "accumulation": p * layer.out_features * 1e12 * adder_tree_energy_j(
                tech.node_nm, m.row_tiles, partial_sum_bits(m.cols_per_weight)),
            "buffer": bits * buf.energy_pj,
            "interconnect": 0.0,
        }
        t_clk = clock_period_ns(config, adc.latency_ns)
        lt = {  # the copies split the sensing and the adds, not the buffers and buses
            "array": 0.0,  # inside the sensing cycle (NeuroSim, synchronous)
            "adc": cyc.sensing * t_clk,
            "dac_driver": 0.0,
            "mux": 0.0,
            "shift_add": reads * t_add_ns / dup,
            "accumulation": p * math.ceil(math.log2(n_terms)) * t_add_ns / dup,
            "buffer": cyc.buffer * t_clk,
            "interconnect": cyc.interconnect * t_clk,
        }
        for key in COMPONENTS:
            energy[key] += le.get(key, 0.0)
            latency[key] += lt.get(key, 0.0)
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
                "area_mm2": 0.0,  # set from the floorplan below
                "energy_uj": sum(le.values()) * 1e-6,
                "latency_us": sum(lt.values()) * 1e-3,
                "components": {
                    key: {
                        "area_mm2": 0.0,  # set from the floorplan below
                        "energy_uj": le.get(key, 0.0) * 1e-6,
                        "latency_us": lt.get(key, 0.0) * 1e-3,
                    }
                    for key in COMPONENTS
                },
            }
        )

    # Area: NeuroSim's floorplan, layout and printed groups (simulator.cost.chip_area)
    extra_driver = (config.rows * (cmp.driver_area_um2(tech, config.dac_bits)
                                   - cmp.driver_area_um2(tech, 1))
                    if config.dac_bits > 1 else 0.0)
    chip, area, layer_area = component_areas(config, layers, plan.cols_per_weight, cycles,
                                             extra_driver)
    for entry, parts in zip(per_layer, layer_area, strict=True):
        entry["area_mm2"] = sum(parts.values()) * 1e-6
        for key, value in parts.items():
            entry["components"][key]["area_mm2"] = value * 1e-6

    # On-chip bus: each bit travels about one side of the chip (NeuroSim's floorplan area)
    core_side_m = math.sqrt(chip.chip_um2 * 1e-12)
    hop = cmp.bus_wire(tech, core_side_m, clock, INTERCONNECT_BUS_BITS)
    for entry, bits in zip(per_layer, bits_moved, strict=True):
        e_ic = bits * hop.energy_pj
        energy["interconnect"] += e_ic
        entry["energy_uj"] += e_ic * 1e-6
        entry["components"]["interconnect"]["energy_uj"] = e_ic * 1e-6

    # Leakage: NeuroSim's idle tiles over the layers' latencies (simulator.cost.leakage)
    leak = leakage_breakdown(config, layers, chip_plan, plan.cols_per_weight, cycles,
                             extra_driver, [entry["latency_us"] for entry in per_layer])
    for entry, row in zip(per_layer, leak["layers"], strict=True):
        entry["leakage_energy_uj"], entry["leakage_power_uw"] = row["energy_uj"], row["power_uw"]

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
        "leakage": {"energy_uj": leak["energy_uj"], "power_uw": leak["power_uw"]},
        "assumptions": {
            "tech_node_nm": tech.node_nm,
            "input_activity": activities[0] if len(set(activities)) == 1 else activities,
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
        leakage_energy_uj=leak["energy_uj"],
        breakdown=breakdown,
    )
