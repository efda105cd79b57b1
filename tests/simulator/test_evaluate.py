"""evaluate(): contract, determinism, fidelity plan, agreement with software accuracy."""

from __future__ import annotations

import json

import pytest

from simulator import ConfigError, CrossbarConfig, Evaluation, Workload, evaluate, fidelity_plan
from simulator.evaluate import MAX_DRAWS, MIN_DRAWS

NOISELESS = {"prog_sigma": 0.0, "read_sigma": 0.0, "saf_sa0": 0.0, "saf_sa1": 0.0,
             "wire_r_ohm": 0.0}


def test_fidelity_plan_grows_with_fidelity() -> None:
    """Draws and test fraction rise monotonically; IR drop gets more faithful; bounds hold."""
    plans = [fidelity_plan(z / 10) for z in range(11)]
    assert plans[0].n_draws == MIN_DRAWS and plans[-1].n_draws == MAX_DRAWS
    assert all(a.n_draws <= b.n_draws for a, b in zip(plans, plans[1:], strict=False))
    assert all(a.test_fraction < b.test_fraction for a, b in zip(plans, plans[1:], strict=False))
    assert plans[-1].test_fraction == 1.0 and plans[-1].test_size(360) == 360
    assert [fidelity_plan(z).ir_drop for z in (0.0, 0.5, 1.0)] == [
        "ideal", "solved", "relaxation"
    ]
    for bad in (-0.1, 1.5, float("nan"), "1", True):
        with pytest.raises(ConfigError, match="fidelity"):
            fidelity_plan(bad)  # type: ignore[arg-type]


def test_evaluate_contract_and_determinism(digits_mlp: Workload) -> None:
    """Fields are in range, details JSON-serializable, and a repeat with the same seed gives
    the same numbers (except cost_s); another seed gives different draws."""
    cfg = CrossbarConfig(read_sigma=0.05, prog_sigma=0.05)
    a = evaluate(cfg, digits_mlp, 0.3, seed=7)
    b = evaluate(cfg, digits_mlp, 0.3, seed=7)
    c = evaluate(cfg, digits_mlp, 0.3, seed=8)
    assert isinstance(a, Evaluation)
    assert 0.0 <= a.accuracy <= 1.0 and a.accuracy_std >= 0 and a.accuracy_stderr > 0
    assert a.area_mm2 > 0 and a.latency_us > 0 and a.energy_uj > 0 and a.cost_s > 0
    da, db = a.to_dict(), b.to_dict()
    da.pop("cost_s"), db.pop("cost_s")
    assert json.dumps(da, sort_keys=True) == json.dumps(db, sort_keys=True)
    assert a.details["accuracy_per_draw"] != c.details["accuracy_per_draw"]
    d = a.details
    assert d["n_draws"] == fidelity_plan(0.3).n_draws and d["ir_drop"] == "solved"
    assert d["tiles"] == sum(layer["arrays"] for layer in d["layers"]) > 0
    assert {"area_mm2", "energy_uj", "latency_us", "utilization"} <= set(d["layers"][0])
    assert d["hardware"]["arrays"] > 0


def test_noiseless_high_precision_matches_software(digits_mlp: Workload) -> None:
    """With no device noise, no wire resistance and 10-bit ADCs, the crossbar's accuracy is
    within one test image of the float model's on the same subset."""
    cfg = CrossbarConfig(adc_bits=10, **NOISELESS)
    ev = evaluate(cfg, digits_mlp, 1.0, seed=0)
    assert ev.details["n_test"] == 360 and ev.accuracy_std == 0.0
    assert ev.accuracy == pytest.approx(ev.details["software_accuracy"], abs=1.5 / 360)
    assert ev.details["software_accuracy"] >= 0.95


def test_evaluate_rejects_bad_arguments(digits_mlp: Workload) -> None:
    """Bad seed, fidelity, config type and workload name raise ValueErrors naming them."""
    with pytest.raises(ValueError, match="seed"):
        evaluate(CrossbarConfig(), digits_mlp, 0.0, seed=-1)
    with pytest.raises(ValueError, match="fidelity"):
        evaluate(CrossbarConfig(), digits_mlp, 2.0, seed=0)
    with pytest.raises(ValueError, match="config"):
        evaluate({"rows": 64}, digits_mlp, 0.0, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no-such-net"):
        evaluate(CrossbarConfig(), "no-such-net", 0.0, seed=0)


def test_hardware_numbers_come_from_the_cost_model(digits_cnn: Workload) -> None:
    """Area, latency and energy (dynamic plus leakage) equal simulator.cost.estimate on the
    model's layer shapes, and respond to the design (bigger ADCs cost energy; more ADC sharing
    costs latency)."""
    from simulator.cost import estimate
    from simulator.mapping import layer_shapes

    cfg = CrossbarConfig(rows=64, cols=64)
    ev = evaluate(cfg, digits_cnn, 0.0, seed=0)
    hw = estimate(cfg, layer_shapes(digits_cnn.model, digits_cnn.input_shape))
    assert (ev.area_mm2, ev.latency_us, ev.energy_uj) == (
        hw.area_mm2,
        hw.latency_us,
        hw.total_energy_uj,
    )
    assert hw.total_energy_uj == hw.energy_uj + hw.leakage_energy_uj
    assert hw.leakage_energy_uj > 0
    assert [layer["name"] for layer in ev.details["layers"]] == ["0", "3", "7"]
    assert ev.details["layers"][0]["energy_uj"] > 0
    more_adc = evaluate(cfg.replace(adc_bits=8), digits_cnn, 0.0, seed=0)
    assert more_adc.energy_uj > ev.energy_uj
    shared = evaluate(cfg.replace(cols_per_adc=32), digits_cnn, 0.0, seed=0)
    assert shared.latency_us > ev.latency_us and shared.area_mm2 < ev.area_mm2
