"""The mitigation knobs wired into CrossbarConfig and evaluate()."""

from __future__ import annotations

import pytest

from simulator import ConfigError, CrossbarConfig, Workload, evaluate, fidelity_plan
from simulator.mitigation.apply import KNOB_DEFAULTS, knobs_of, prepare


def test_knobs_default_off_and_validate() -> None:
    """Every knob defaults to its off value; bad values raise ConfigError naming the field."""
    assert knobs_of(CrossbarConfig()) == KNOB_DEFAULTS
    assert CrossbarConfig().analytic_below == 0.0
    for field, bad in (
        ("remap", "zigzag"),
        ("resna_epochs", -1),
        ("rvw_tolerance", 0.0),
        ("fault_mitigation", "pray"),
        ("analytic_below", 1.5),
    ):
        with pytest.raises(ConfigError, match=field):
            CrossbarConfig.from_params({field: bad})
    assert fidelity_plan(0.0).estimator == "montecarlo"
    assert fidelity_plan(0.01, 0.05).estimator == "moments"
    assert fidelity_plan(0.05, 0.05).estimator == "montecarlo"


def test_prepare_is_identity_with_knobs_off(digits_cnn: Workload) -> None:
    """With every knob off the mapped model is the workload's own model object."""
    assert prepare(CrossbarConfig(), digits_cnn, 1.0, 0).model is digits_cnn.model


@pytest.mark.slow
def test_analytic_tier_tracks_monte_carlo(digits_cnn: Workload) -> None:
    """analytic_below=0.05 makes fidelity 0 analytic: the estimate is within 0.05 of the
    fidelity-0 Monte-Carlo at σ_p = 0.1 and reports the predicted spread."""
    cfg = CrossbarConfig(prog_sigma=0.1, read_sigma=0.02)
    mc = evaluate(cfg, digits_cnn, 0.0, seed=0)
    an = evaluate(cfg.replace(analytic_below=0.05), digits_cnn, 0.0, seed=0)
    assert an.details["estimator"] == "moments" and mc.details["estimator"] == "montecarlo"
    assert an.accuracy == pytest.approx(mc.accuracy, abs=0.05)
    assert an.details["predicted_accuracy_std"] > 0
    assert an.area_mm2 == mc.area_mm2 and an.details["tiles"] == mc.details["tiles"]


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
