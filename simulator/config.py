r"""The crossbar configuration: one frozen, keyword-only dataclass, validated in one place.

Each field states its unit, range and the source of its default (see :mod:`simulator.params`).
Field constraints are declared in :data:`FIELD_CONSTRAINTS` and cross-field rules in
:func:`_check_relations`; :meth:`CrossbarConfig.__post_init__` applies both, so a new field
needs its declaration and one constraint line. A mitigation knob is declared with
:func:`_knob`: its default is its off value, and :data:`MITIGATION_KNOBS` (hence
:data:`simulator.mitigation.apply.KNOB_DEFAULTS`) follows from the declarations.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from simulator import params, tiling
from simulator.errors import ConfigError

__all__ = [
    "ADC_POLICIES",
    "ADC_TYPES",
    "COMPENSATION_MODES",
    "COMPENSATION_TARGETS",
    "DEVICES",
    "ENCODINGS",
    "FAULT_SCHEMES",
    "FIELD_CONSTRAINTS",
    "MITIGATION_KNOBS",
    "REMAP_SCHEMES",
    "TECH_NODES_NM",
    "CrossbarConfig",
]

ENCODINGS: tuple[str, ...] = ("differential", "offset")
"""Signed-weight encodings: a column pair per weight slice, or offset weights with one
reference column per array."""

DEVICES: tuple[str, ...] = tuple(params.DEVICE_PRESETS)
"""Device noise presets (:data:`simulator.params.DEVICE_PRESETS`)."""

TECH_NODES_NM: tuple[int, ...] = (22, 32, 45, 65)
"""Technology nodes with cost-model tables [nm]."""

ADC_TYPES: tuple[str, ...] = ("mlsa", "sar")
"""ADC circuits of the cost model: NeuroSim's multi-level sense amplifier (its default) or a
successive-approximation ADC (NeuroSim ``SARADC = true``)."""

COMPENSATION_MODES: tuple[str, ...] = ("none", "all", "search")
"""Values of the ``compensation`` knob (CorrectNet+ error compensation)."""

COMPENSATION_TARGETS: tuple[str, ...] = ("noise", "chip")
"""Values of the ``compensation_target`` knob: what compensators are trained against."""

ADC_POLICIES: tuple[str, ...] = ("uniform", "robust")
"""Values of the ``adc_policy`` knob (per-layer ADC resolution)."""

REMAP_SCHEMES: tuple[str, ...] = ("none", "srs", "drs")
"""Values of the ``remap`` knob (IR-drop re-mapping, :mod:`simulator.mitigation.remap`)."""

FAULT_SCHEMES: tuple[str, ...] = ("none", "remap", "rvw", "both")
"""Values of the ``fault_mitigation`` knob (:mod:`simulator.mitigation.faults`)."""


@dataclass(frozen=True)
class IntRange:
    """An integer in ``[low, high]`` (``high=None``: unbounded)."""

    low: int
    high: int | None = None

    def check(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an int, got {value!r}.")
        if value < self.low or (self.high is not None and value > self.high):
            upper = "" if self.high is None else f" and <= {self.high}"
            raise ConfigError(f"{name} must be >= {self.low}{upper}, got {value!r}.")
        return value


@dataclass(frozen=True)
class FloatRange:
    """A finite real in ``[low, high]``; ``low_open`` excludes ``low``."""

    low: float
    high: float = math.inf
    low_open: bool = False

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name} must be a number, got {value!r}.")
        value = float(value)
        below = value <= self.low if self.low_open else value < self.low
        if not math.isfinite(value) or below or value > self.high:
            left = "(" if self.low_open else "["
            raise ConfigError(f"{name} must be in {left}{self.low}, {self.high}], got {value!r}.")
        return value


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, bool) or value not in self.values:
            raise ConfigError(f"{name} must be one of {list(self.values)}, got {value!r}.")
        return value


FIELD_CONSTRAINTS: dict[str, IntRange | FloatRange | Choice] = {
    "rows": IntRange(32, 1024),
    "cols": IntRange(32, 1024),
    "cell_bits": IntRange(1, 4),
    "weight_bits": IntRange(2, 8),
    "input_bits": IntRange(1, 8),
    "dac_bits": IntRange(1, 8),
    "adc_bits": IntRange(2, 10),
    "cols_per_adc": IntRange(1, 1024),
    "g_on_us": FloatRange(0.0, low_open=True),
    "g_off_us": FloatRange(0.0, low_open=True),
    "device": Choice(DEVICES),
    "prog_sigma": FloatRange(0.0, 1.0),
    "read_sigma": FloatRange(0.0, 1.0),
    "saf_sa0": FloatRange(0.0, 1.0),
    "saf_sa1": FloatRange(0.0, 1.0),
    "wire_r_ohm": FloatRange(0.0, 1e3),
    "tech_node_nm": Choice(TECH_NODES_NM),
    "clock_ghz": FloatRange(0.0, 10.0, low_open=True),
    "encoding": Choice(ENCODINGS),
    "read_voltage_v": FloatRange(0.0, 5.0, low_open=True),
    "adc_type": Choice(ADC_TYPES),
    "speed_up_degree": IntRange(1, 64),
    # Mitigation knobs (simulator.mitigation.apply); each field default switches it off.
    "resna_epochs": IntRange(0, 100),
    "resna_noise_scale": FloatRange(0.0, 10.0),
    "lipschitz_lambda": FloatRange(0.0, 100.0),
    "compensation": Choice(COMPENSATION_MODES),
    "compensation_target": Choice(COMPENSATION_TARGETS),
    "adc_policy": Choice(ADC_POLICIES),
    "remap": Choice(REMAP_SCHEMES),
    "fault_mitigation": Choice(FAULT_SCHEMES),
    "rvw_tolerance": FloatRange(0.0, 10.0, low_open=True),
    "rvw_max_pulses": IntRange(1, 100),
    "analytic_below": FloatRange(0.0, 1.0),
    "column_sum_below": FloatRange(0.0, 1.0),
}
"""Per-field constraint, applied (and ints/floats normalized) by ``__post_init__``."""

_KNOB = "mitigation_knob"
"""Field metadata key marking a mitigation knob."""


def _knob(off: Any) -> Any:
    """A mitigation-knob field whose default is its off value ``off``."""
    return dataclasses.field(default=off, metadata={_KNOB: True})


@dataclass(frozen=True, kw_only=True)
class CrossbarConfig:
    r"""A ReRAM crossbar accelerator design point and its device/circuit parameters.

    Weights are quantized to ``weight_bits``, sliced over ``ceil(magnitude bits / cell_bits)``
    cells, and tiled onto ``rows x cols`` arrays; activations are quantized to ``input_bits``
    and applied ``dac_bits`` per read cycle; every column is digitized by a ``adc_bits`` ADC
    shared by ``cols_per_adc`` columns. Conductance noise is relative to ``g_on - g_off``.

    Raises:
        ConfigError: (a ``ValueError``) naming the field, on any out-of-range or ill-typed
            value or violated cross-field rule.
    """

    rows: int = params.ROWS
    """Rows (word lines) per array, 32..1024. Default: NeuroSim (128)."""
    cols: int = params.COLS
    """Columns (bit lines) per array, 32..1024. Default: NeuroSim (128)."""
    cell_bits: int = params.CELL_BITS
    """Bits per cell, 1..4 (``2**cell_bits`` conductance levels). Default: NeuroSim (1)."""
    weight_bits: int = params.WEIGHT_BITS
    """Signed weight precision [bit], 2..8, symmetric per-layer quantization. Default: 8."""
    input_bits: int = params.INPUT_BITS
    """Activation (input) precision [bit], 1..8. Default: 8."""
    dac_bits: int = params.DAC_BITS
    """Input bits applied per read cycle, 1..``input_bits`` (1 = bit-serial). Default: 1."""
    adc_bits: int = params.ADC_BITS
    """ADC resolution [bit], 2..10. Default: NeuroSim (5)."""
    cols_per_adc: int = params.COLS_PER_ADC
    """Columns sharing one ADC through a column mux, >= 1, divides ``cols``. Default: 8."""
    g_on_us: float = params.G_ON_US
    """On (low-resistance) conductance [µS], > ``g_off_us``. Default: NeuroSim (100 kΩ)."""
    g_off_us: float = params.G_OFF_US
    """Off (high-resistance) conductance [µS], > 0. Default: NeuroSim (1.7 MΩ)."""
    device: str = params.DEVICE
    """Device noise preset, ``"wan2022"`` (state-dependent programming noise of aihwkit's
    ``ReRamWan2022NoiseModel``) or ``"generic"`` (level-independent). It sets how σ varies
    with the programmed state; ``prog_sigma``/``read_sigma`` set the scale. Default:
    wan2022 (``docs/decisions.md``)."""
    prog_sigma: float = params.PROG_SIGMA
    """Programming variation σ **per cell** of an on-state cell, fraction of
    ``g_on - g_off``, 0..1, drawn once per programmed array; a cell at another state gets
    ``prog_sigma`` times the preset's shape (1 for ``generic``). Default: wan2022's 0.0441
    (1.103 µS at aihwkit's g_max = 25 µS)."""
    read_sigma: float = params.READ_SIGMA
    """Read noise σ **per cell** and read, fraction of ``g_on - g_off``, 0..1 (a weight on a
    differential pair carries ``sqrt(2)`` of it). Default: wan2022's 0.00707 (aihwkit's
    ``w_noise = 0.01`` per weight)."""
    saf_sa0: float = params.SAF_SA0
    """Fraction of cells stuck at ``g_off``, 0..1, ``saf_sa0 + saf_sa1 <= 1``. Default: MNSIM."""
    saf_sa1: float = params.SAF_SA1
    """Fraction of cells stuck at ``g_on``, 0..1. Default: MNSIM 2.0 (0.1 %)."""
    wire_r_ohm: float = params.WIRE_R_OHM
    """Wire resistance per cell segment [Ω], >= 0, word and bit lines alike. Default:
    :func:`simulator.params.wire_r_ohm_for` at the default node (2.04 Ω at 22 nm: the mean of
    the 12F row and 4F column segments of a 1T1R cell); for another ``tech_node_nm`` set it
    to ``wire_r_ohm_for(node)``."""
    tech_node_nm: int = params.TECH_NODE_NM
    """CMOS technology node [nm], one of 22, 32, 45, 65. Default: NeuroSim (22)."""
    clock_ghz: float = params.CLOCK_GHZ
    """Periphery clock [GHz], (0, 10]. Default: NeuroSim (1 GHz)."""
    encoding: str = params.ENCODING
    """Signed-weight encoding, ``"differential"`` or ``"offset"``. Default: differential."""
    read_voltage_v: float = params.READ_VOLTAGE_V
    """Word-line read voltage [V], (0, 5]. Default: NeuroSim (0.55 V at 22 nm)."""
    adc_type: str = "mlsa"
    """ADC circuit, ``"mlsa"`` (multi-level sense amplifier) or ``"sar"``. Default: NeuroSim
    V1.4 (``SARADC = false``)."""
    speed_up_degree: int = 8
    """Pipeline speed-up by weight duplication, 1..64 (1 = none): layers whose input feature
    map is larger than ``max IFM / speed_up_degree`` get ``ceil((IFM / bound)^2)`` copies of
    their arrays, times NeuroSim's PE / sub-array duplication of small matrices
    (:mod:`simulator.cost.floorplan`). Default: NeuroSim V1.4 (``speedUpDegree = 8``,
    ``pipeline = true``)."""

    # -- mitigation knobs (simulator.mitigation; defaults: off) ------------------------------
    # (analytic_below, after them, picks the accuracy estimator: it is not a mitigation.)
    resna_epochs: int = _knob(0)
    """Noise-aware (ReSNA) fine-tuning epochs at fidelity 1, 0..100 (0 = off); fidelity ``z``
    trains ``max(1, round(z · resna_epochs))`` epochs."""
    resna_noise_scale: float = _knob(1.0)
    """Multiplier of the crossbar noise injected during that fine-tuning, 0..10."""
    lipschitz_lambda: float = _knob(0.0)
    """CorrectNet+ Lipschitz penalty ``λ Σ σ_max(W)²`` in the fine-tuning loss, 0..100
    (acts only while ``resna_epochs > 0``)."""
    compensation: str = _knob("none")
    """CorrectNet+ error compensation: ``"none"``, ``"all"`` crossbar layers, or ``"search"``
    (layers chosen by a subset search)."""
    compensation_target: str = _knob("noise")
    """What the compensators learn (acts only while ``compensation`` is on): ``"noise"``
    (random device noise of this config, as CorrectNet+ prescribes) or ``"chip"`` (also the
    weights this config's noiseless chip applies: weight quantization and first-order IR drop
    of its wires, :mod:`simulator.mitigation.chip_weights`; vgg8 at 512x512, 2.04 Ω:
    docs/mitigation.md)."""
    adc_policy: str = _knob("uniform")
    """``"uniform"`` (``adc_bits`` everywhere) or ``"robust"`` (per-layer bits <= ``adc_bits``
    chosen for ADC energy at 99 % of the predicted accuracy)."""
    remap: str = _knob("none")
    """IR-drop re-mapping of rows/columns by sensitivity: ``"none"``, ``"srs"`` or ``"drs"``."""
    fault_mitigation: str = _knob("none")
    """``"none"``, ``"remap"`` (fault-aware row assignment), ``"rvw"`` (read-verify-write) or
    ``"both"``."""
    rvw_tolerance: float = _knob(1.0)
    """Read-verify-write acceptance window [σ of one write], (0, 10]."""
    rvw_max_pulses: int = _knob(8)
    """Read-verify-write pulse budget per cell, 1..100."""
    analytic_below: float = 0.0
    """Fidelities below this value estimate accuracy by analytic moment propagation instead
    of Monte-Carlo, 0..1 (0 = never). Suggested: 0.05."""
    column_sum_below: float = 0.0
    """Monte-Carlo fidelities below this value digitize the slice-summed column current once
    per cycle (the fast tier of :mod:`simulator.readout`, aihwkit's abstraction) instead of
    every slice column, 0..1 (0 = never). Suggested: 0.1."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            constraint = FIELD_CONSTRAINTS.get(f.name)
            if constraint is not None:
                object.__setattr__(self, f.name, constraint.check(f.name, getattr(self, f.name)))
        _check_relations(self)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_params(
        cls, params: dict[str, Any], base: CrossbarConfig | None = None
    ) -> CrossbarConfig:
        """Build a config from a flat ``{field: value}`` dict over ``base`` (default: defaults).

        Integral floats (``128.0``) are accepted for int fields, as JSON and optimizers may
        produce them.

        Raises:
            ConfigError: On an unknown key (named) or an invalid value.
        """
        if not isinstance(params, dict):
            raise ConfigError(f"params must be a dict of CrossbarConfig fields, got {params!r}.")
        names = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {} if base is None else base.to_dict()
        for key, value in params.items():
            if key not in names:
                raise ConfigError(f"unknown CrossbarConfig field {key!r}.")
            if _wants_int(FIELD_CONSTRAINTS.get(key)):
                value = _as_int(key, value)
            values[key] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serializable dict (round-trips through :meth:`from_params`)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> CrossbarConfig:
        """A copy with ``changes`` applied (validated)."""
        return CrossbarConfig.from_params(changes, base=self)

    # -- derived quantities ---------------------------------------------------------------

    @property
    def g_range_us(self) -> float:
        """Programming window ``g_on - g_off`` [µS]."""
        return self.g_on_us - self.g_off_us

    @property
    def levels(self) -> int:
        """Conductance levels per cell, ``2**cell_bits``."""
        return 2**self.cell_bits

    @property
    def magnitude_bits(self) -> int:
        """Bits stored per weight across its cells: ``weight_bits - 1`` for a differential
        pair (the sign picks the column), ``weight_bits`` for offset encoding."""
        return tiling.magnitude_bits(self.weight_bits, self.encoding)

    @property
    def slices(self) -> int:
        """Cells per weight (per column of a pair), ``ceil(magnitude_bits / cell_bits)``."""
        return math.ceil(self.magnitude_bits / self.cell_bits)

    @property
    def input_cycles(self) -> int:
        """Read cycles per input vector, ``ceil(input_bits / dac_bits)``."""
        return math.ceil(self.input_bits / self.dac_bits)


MITIGATION_KNOBS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(CrossbarConfig) if f.metadata.get(_KNOB)
)
"""The fields that are mitigation knobs, in declaration order (their defaults: off)."""


def _wants_int(constraint: IntRange | FloatRange | Choice | None) -> bool:
    if isinstance(constraint, IntRange):
        return True
    return isinstance(constraint, Choice) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in constraint.values
    )


def _as_int(name: str, value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{name} must be an int, got {value!r}.") from None
    return value


def _check_relations(c: CrossbarConfig) -> None:
    """Cross-field rules; each error names the field that must change."""
    if c.g_on_us <= c.g_off_us:
        raise ConfigError(
            f"g_on_us must be greater than g_off_us, got g_on_us={c.g_on_us!r}, "
            f"g_off_us={c.g_off_us!r}."
        )
    if c.dac_bits > c.input_bits:
        raise ConfigError(
            f"dac_bits must be <= input_bits, got dac_bits={c.dac_bits}, "
            f"input_bits={c.input_bits}."
        )
    if c.cols % c.cols_per_adc != 0:
        raise ConfigError(
            f"cols_per_adc must divide cols, got cols_per_adc={c.cols_per_adc}, cols={c.cols}."
        )
    if c.saf_sa0 + c.saf_sa1 > 1.0:
        raise ConfigError(
            f"saf_sa0 + saf_sa1 must be <= 1, got saf_sa0={c.saf_sa0!r}, saf_sa1={c.saf_sa1!r}."
        )
    plan = tiling.column_plan(cols=c.cols, weight_bits=c.weight_bits, cell_bits=c.cell_bits,
                              encoding=c.encoding)
    if not plan.fits:
        raise ConfigError(
            f"cols={c.cols} cannot hold one {c.weight_bits}-bit weight ({plan.cols_per_weight} "
            f"columns with {c.encoding!r} encoding)."
        )
