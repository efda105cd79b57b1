r"""The cost report in NeuroSim's categories, and NeuroSim V1.4's RRAM defaults as a preset.

NeuroSim books area and energy in four circuit groups (``main.cpp`` summary): the CIM
array, the ADC (sense amplifiers, with the cell read current), accumulation (shift-adders
and adder trees) and other periphery (decoders, switch matrices, muxes, buffers, pooling,
activation); interconnect is reported beside them. :data:`GROUPS` maps the components of
:data:`simulator.cost.COMPONENTS` onto those groups; :func:`cost_report` turns a
:class:`~simulator.cost.HardwareCost` into JSON with unit-suffixed keys.
"""

from __future__ import annotations

from typing import Any

from simulator.cost.model import HardwareCost

__all__ = ["AREA_GROUPS", "ENERGY_GROUPS", "NEUROSIM_POST_LAYOUT_FACTOR", "PRESETS", "cost_report"]

NEUROSIM_POST_LAYOUT_FACTOR = 1.22
"""NeuroSim V1.4's post-layout energy increase ζ (``Param.cpp`` ``zeta``, applied with its
default ``validated = true``): its printed TOPS/W is ``ops / ((E_dyn + E_leak)·ζ)``, which
``tops_per_w_neurosim`` reproduces."""

NEUROSIM_V14: dict[str, Any] = {
    "rows": 128,  # numRowSubArray
    "cols": 128,  # numColSubArray
    "cell_bits": 1,  # cellBit
    "weight_bits": 8,  # synapseBit (wrapper --wl_weight 8)
    "input_bits": 8,  # numBitInput (wrapper --wl_activate 8)
    "dac_bits": 1,  # bit-serial inputs
    "adc_bits": 5,  # levelOutput = 32
    "cols_per_adc": 8,  # numColMuxed
    "g_on_us": 10.0,  # resistanceOn = 100 kΩ
    "g_off_us": 10.0 / 17.0,  # resistanceOff = 1.7 MΩ
    "tech_node_nm": 22,  # technode
    "clock_ghz": 1.0,  # clkFreq (before the synchronous stretch)
    "encoding": "offset",  # a reference (dummy) column is subtracted
    "read_voltage_v": 0.55,  # readVoltage at 22 nm
    "adc_type": "mlsa",  # SARADC = false
    "speed_up_degree": 8,  # pipeline = true, speedUpDegree = 8
}
"""DNN+NeuroSim V1.4 ``Param.cpp`` defaults with ``memcelltype = 2`` (RRAM 1T1R)."""

PRESETS: dict[str, dict[str, Any]] = {"neurosim-v1.4": NEUROSIM_V14}
"""Named configurations for ``xbar cost --preset``."""

AREA_GROUPS: dict[str, tuple[str, ...]] = {
    "cim_array": ("array",),
    "adc": ("adc",),
    "accumulation": ("shift_add", "accumulation"),
    "other_periphery": ("dac_driver", "mux", "buffer"),
    "interconnect": ("interconnect",),
    "whitespace": ("whitespace",),
}
"""NeuroSim area group -> our components (``whitespace``: the bounding-box slack NeuroSim's
``ChipArea`` holds beyond its printed groups)."""

ENERGY_GROUPS: dict[str, tuple[str, ...]] = {
    "adc": ("adc", "array"),  # NeuroSim books the column read in its ADC energy
    "accumulation": ("shift_add", "accumulation"),
    "other": ("dac_driver", "mux", "buffer", "interconnect"),
    "buffer": ("buffer",),
    "interconnect": ("interconnect",),
}
"""NeuroSim energy group -> our components (``buffer`` and ``interconnect`` are parts of
``other``, reported separately as NeuroSim does)."""


def cost_report(cost: HardwareCost, operations: float | None = None) -> dict[str, Any]:
    """Every figure of ``cost`` with its breakdown, JSON-serializable.

    Args:
        cost: The estimate.
        operations: Operations per image (2 per multiply-accumulate); gives ``tops_per_w``
            (dynamic energy only) and ``tops_per_w_neurosim`` (NeuroSim's printed definition:
            dynamic plus leakage energy, times its post-layout factor ζ) when known.
    """
    comp = cost.breakdown["components"]

    def total(groups: dict[str, tuple[str, ...]], key: str) -> dict[str, float]:
        return {name: sum(comp[c][key] for c in parts) for name, parts in groups.items()}

    energy_pj = cost.energy_uj * 1e6
    leakage_pj = cost.leakage_energy_uj * 1e6
    out: dict[str, Any] = {
        "area_mm2": {"chip": cost.area_mm2, **total(AREA_GROUPS, "area_mm2")},
        "dynamic_energy_uj": {"per_image": cost.energy_uj, **total(ENERGY_GROUPS, "energy_uj")},
        "leakage": {
            "energy_uj": cost.leakage_energy_uj,
            "power_uw": cost.breakdown["leakage"]["power_uw"],
            "energy_share": leakage_pj / (energy_pj + leakage_pj),
        },
        "latency_us": {
            "pipelined_per_image": cost.latency_pipelined_us,
            "layer_by_layer_per_image": cost.latency_us,
        },
        "tops_per_w": None if operations is None else operations / energy_pj,
        "tops_per_w_neurosim": (
            None if operations is None
            else operations / (cost.total_energy_uj * 1e6 * NEUROSIM_POST_LAYOUT_FACTOR)
        ),
        "operations_per_image": operations,
        "arrays": cost.breakdown["arrays"],
        "adcs": cost.breakdown["adcs"],
        "components": comp,
        "layers": [
            {
                key: layer[key]
                for key in (
                    "name",
                    "kind",
                    "arrays",
                    "speed_up",
                    "area_mm2",
                    "energy_uj",
                    "leakage_energy_uj",
                    "leakage_power_uw",
                    "latency_us",
                    "adc_conversions",
                )
            }
            for layer in cost.breakdown["layers"]
        ],
        "assumptions": cost.breakdown["assumptions"],
        "not_modelled": ["pooling and activation units",
                         "PE-level buffers and buses",
                         "word-line switch, column-mux and encoder delays in the clock"],
    }
    return out
