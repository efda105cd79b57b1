"""The mitigation knobs wired into CrossbarConfig and evaluate() (simulator.mitigation.apply)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from simulator import ConfigError, CrossbarConfig, Workload, evaluate
from simulator.analog_model import AnalogModel
from simulator.config import FIELD_CONSTRAINTS, MITIGATION_KNOBS, Choice, FloatRange, IntRange
from simulator.mitigation.apply import KNOB_DEFAULTS, configure_analog, knobs_of, overhead, prepare


def _outside(constraint: IntRange | FloatRange | Choice) -> Any:
    """A value just outside a declared constraint."""
    if isinstance(constraint, Choice):
        return "not-a-choice"
    return constraint.low - 1 if isinstance(constraint, IntRange) else constraint.low - 0.5


def _other(constraint: IntRange | FloatRange | Choice, default: Any) -> Any:
    """A valid value that differs from ``default``."""
    if isinstance(constraint, Choice):
        return next(v for v in constraint.values if v != default)
    high = constraint.high
    if high is None or math.isinf(high):
        high = constraint.low + 10
    value = (constraint.low + high) / 2
    value = int(value) if isinstance(constraint, IntRange) else value
    return value if value != default else high


def _layer_state(analog: AnalogModel) -> dict[str, tuple[list[type], CrossbarConfig]]:
    """Device-effect types and config of every analog layer."""
    return {n: ([type(e) for e in la.effects], la.config) for n, la in analog.layers.items()}


def test_knob_outside_its_constraint_raises_config_error_naming_it() -> None:
    """Every mitigation knob has a declared constraint; a value outside it is rejected with
    a ConfigError that names the knob."""
    assert MITIGATION_KNOBS and "analytic_below" not in MITIGATION_KNOBS
    for name in [*MITIGATION_KNOBS, "analytic_below"]:
        with pytest.raises(ConfigError, match=name):
            CrossbarConfig.from_params({name: _outside(FIELD_CONSTRAINTS[name])})


def test_knobs_of_reads_each_knob_from_the_config() -> None:
    """Setting one knob to another valid value changes exactly that entry of knobs_of;
    setting it to its default is the same as leaving it out."""
    base = knobs_of(CrossbarConfig())
    for name, default in KNOB_DEFAULTS.items():
        value = _other(FIELD_CONSTRAINTS[name], default)
        assert knobs_of(CrossbarConfig.from_params({name: value})) == {**base, name: value}
        assert knobs_of(CrossbarConfig.from_params({name: default})) == base


def test_knobs_at_their_defaults_change_nothing(digits_cnn: Workload) -> None:
    """Every knob given explicitly at its default: the mapped model is the workload's own
    object, the analog model keeps its device effects and ADC bits, and the mitigations
    charge no energy, latency, compensation MACs or extra programming."""
    cfg = CrossbarConfig(**KNOB_DEFAULTS)
    prepared = prepare(cfg, digits_cnn, 1.0, 0)
    assert prepared.model is digits_cnn.model and prepared.compensated == []
    assert prepared.adc_bits is None
    analog = AnalogModel(prepared.model, cfg)
    before = _layer_state(analog)
    configure_analog(analog, cfg, prepared)
    assert _layer_state(analog) == before
    charged = overhead(cfg, digits_cnn, prepared)
    assert charged["energy_uj"] == 0.0 and charged["latency_us"] == 0.0
    assert charged["compensation"]["macs"] == 0.0
    assert charged["programming"]["chosen"] == charged["programming"]["plain"]
    assert charged["knobs"] == KNOB_DEFAULTS


@pytest.mark.slow
def test_rvw_and_compensation_are_charged(digits_cnn: Workload) -> None:
    """read-verify-write costs more programming energy and time than single pulses;
    compensating every layer adds its digital MAC energy to the per-inference energy."""
    base = evaluate(CrossbarConfig(), digits_cnn, 0.0, seed=0)
    rvw = evaluate(CrossbarConfig(fault_mitigation="rvw"), digits_cnn, 0.0, seed=0)
    prog = rvw.details["mitigation"]["programming"]
    assert prog["chosen"]["energy_uj"] > 1.4 * prog["plain"]["energy_uj"]
    assert prog["chosen"]["latency_us"] > 3 * prog["plain"]["latency_us"]
    assert base.details["mitigation"]["energy_uj"] == 0.0
    comp = evaluate(CrossbarConfig(compensation="all"), digits_cnn, 0.0, seed=0)
    extra = comp.details["mitigation"]["compensation"]["energy_uj"]
    assert extra > 0 and comp.energy_uj == pytest.approx(base.energy_uj + extra)
    assert comp.details["mitigation"]["compensation"]["macs"] == 64 * 64 + 16 * 256 + 100


@pytest.mark.slow
def test_robust_adc_policy_lowers_charged_energy(digits_cnn: Workload) -> None:
    """adc_policy="robust" from 7-bit ADCs picks fewer bits somewhere and the evaluation's
    energy falls by the cost model's per-layer ADC difference (latency does not rise)."""
    uniform = evaluate(CrossbarConfig(adc_bits=7), digits_cnn, 0.0, seed=0)
    robust = evaluate(CrossbarConfig(adc_bits=7, adc_policy="robust"), digits_cnn, 0.0, seed=0)
    bits = robust.details["mitigation"]["adc_bits"]
    assert min(bits.values()) < 7
    delta = robust.details["mitigation"]["per_layer_adc"]
    assert delta["energy_uj"] < 0 and delta["latency_us"] <= 0
    assert robust.energy_uj == pytest.approx(uniform.energy_uj + delta["energy_uj"])
    assert robust.latency_us == pytest.approx(uniform.latency_us + delta["latency_us"])
