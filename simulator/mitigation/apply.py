r"""Wiring of the mitigation knobs of :class:`~simulator.config.CrossbarConfig` into
:func:`simulator.evaluate.evaluate`.

The knobs and what they do at evaluation time:

=======================  ====================================================================
``resna_epochs``         noise-aware fine-tuning epochs at fidelity 1 (0 = off); fidelity
                         ``z`` runs ``round(z · resna_epochs)`` epochs (at least 1 when on)
``resna_noise_scale``    multiplier of the injected noise during that fine-tuning
``lipschitz_lambda``     CorrectNet+ Lipschitz penalty added to the fine-tuning loss
``compensation``         ``"none"``, ``"all"`` (a compensator after every crossbar layer) or
                         ``"search"`` (greedy subset search on held-out accuracy)
``compensation_target``  ``"noise"`` (device noise) or ``"chip"`` (also the noiseless chip's
                         weights through first-order wires)
``adc_policy``           ``"uniform"`` or ``"robust"`` (per-layer ADC bits,
                         :func:`~simulator.mitigation.correctnet.choose_adc_bits`)
``remap``                ``"none"``, ``"srs"`` or ``"drs"`` (IR-drop re-mapping)
``fault_mitigation``     ``"none"``, ``"remap"``, ``"rvw"`` or ``"both"``
``rvw_tolerance``,       read-verify-write acceptance window [σ] and pulse budget
``rvw_max_pulses``
=======================  ====================================================================

:func:`prepare` runs the training-time knobs once per (workload, knobs, epochs, seed) and
caches the result in-process; :func:`configure_analog` installs the per-chip ones in an
``AnalogModel``; :func:`overhead` returns what the cost model must charge (compensation
MACs per inference, one-time programming with or without read-verify-write, training time).
The accuracy estimators of :mod:`simulator.estimators` call them.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from simulator import cost
from simulator.config import MITIGATION_KNOBS, CrossbarConfig
from simulator.mapping import crossbar_layers, layer_shapes
from simulator.mitigation import correctnet, faults, remap, resna
from simulator.mitigation.chip_weights import noiseless_chip_weights
from simulator.tiling import layout_for

logger = logging.getLogger(__name__)

__all__ = [
    "KNOB_DEFAULTS",
    "Prepared",
    "configure_analog",
    "knobs_of",
    "overhead",
    "prepare",
]

KNOB_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(CrossbarConfig) if f.name in MITIGATION_KNOBS
}
"""Mitigation knobs and their off values: the :class:`~simulator.config.CrossbarConfig` field
defaults of :data:`~simulator.config.MITIGATION_KNOBS`."""

COMPENSATION_EPOCHS = 3
"""Training epochs of compensators."""
_CACHE: dict[tuple[Any, ...], Prepared] = {}
_CACHE_SIZE = 16


def knobs_of(config: CrossbarConfig) -> dict[str, Any]:
    """The mitigation knob values of ``config``, keyed like :data:`KNOB_DEFAULTS`."""
    return {k: getattr(config, k) for k in KNOB_DEFAULTS}


@dataclass
class Prepared:
    """A workload's model after the training-time knobs."""

    model: nn.Module
    """The model to map (fine-tuned, compensated and/or re-mapped)."""
    train_time_s: float = 0.0
    """Wall time of the training-time knobs [s]."""
    compensated: list[str] = field(default_factory=list)
    """Layers with a compensator."""
    adc_bits: dict[str, int] | None = None
    """Per-layer ADC resolution (``adc_policy="robust"``), keyed by the mapped layer name."""
    details: dict[str, Any] = field(default_factory=dict)
    """JSON-serializable record of what was done."""


def _train_data(workload: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if getattr(workload, "x_train", None) is None:
        raise ValueError(
            f"workload {workload.name!r} has no training split; the resna/lipschitz/"
            "compensation knobs need one."
        )
    return workload.x_train, workload.y_train


def prepare(config: CrossbarConfig, workload: Any, fidelity: float, seed: int) -> Prepared:
    r"""Apply the training-time and mapping-time knobs to ``workload.model``.

    Args:
        config: The configuration (its knob fields, see the module docstring).
        workload: A :class:`simulator.workloads.Workload`.
        fidelity: In [0, 1]; scales the fine-tuning epochs.
        seed: Seed of the training.

    Returns:
        A :class:`Prepared`; with every knob off, ``model`` is ``workload.model`` itself.
    """
    k = knobs_of(config)
    epochs = 0
    if k["resna_epochs"] > 0:
        epochs = max(1, resna.epochs_for_fidelity(fidelity, k["resna_epochs"]))
    train_knobs = (epochs, k["resna_noise_scale"], k["lipschitz_lambda"], k["compensation"],
                   k["compensation_target"])
    needs = epochs > 0 or k["compensation"] != "none"
    chip_target = k["compensation"] != "none" and k["compensation_target"] == "chip"
    needs = needs or k["adc_policy"] != "uniform" or k["remap"] != "none"
    if not needs:
        return Prepared(model=workload.model)
    device_fields = ("prog_sigma", "read_sigma", "g_on_us", "g_off_us", "rows", "cols")
    key = (
        workload.name,
        id(workload.model),
        train_knobs,
        k["adc_policy"],
        k["remap"],
        tuple(sorted(config.to_dict().items()))
        if k["adc_policy"] != "uniform" or k["remap"] != "none" or chip_target
        else tuple(getattr(config, f) for f in device_fields),
        seed,
    )
    if key in _CACHE:
        return _CACHE[key]
    start = time.perf_counter()
    model = workload.model
    details: dict[str, Any] = {}
    if epochs > 0:
        x, y = _train_data(workload)
        lam = k["lipschitz_lambda"]
        result = resna.noise_aware_finetune(
            model,
            x,
            y,
            config,
            epochs=epochs,
            noise_scale=k["resna_noise_scale"],
            seed=seed,
            extra_loss=(lambda m: lam * correctnet.lipschitz_penalty(m)) if lam > 0 else None,
        )
        model = result.model
        details["resna"] = {"epochs": epochs, "losses": result.losses}
    # Re-mapping before compensation: the compensators then learn the chip that holds the
    # re-mapped placement (its residual IR drop), not one the chip never holds.
    if k["remap"] != "none":
        x, y = _train_data(workload)
        sens = remap.weight_sensitivity(model, x, y)
        model = remap.remap_model(model, config, sens, scheme=k["remap"])
        details["remap"] = k["remap"]
    compensated: list[str] = []
    if k["compensation"] != "none":
        x, y = _train_data(workload)
        names = [n for n, _ in crossbar_layers(model)]
        chip = noiseless_chip_weights(model, config) if chip_target else None
        if k["compensation"] == "all":
            compensated = names
        else:
            compensated = _search_compensation(model, names, x, y, config, seed, chip)
        model = correctnet.train_compensators(
            model, compensated, x, y, config, epochs=COMPENSATION_EPOCHS, seed=seed, chip=chip
        )
        details["compensated_layers"] = compensated
        details["compensation_target"] = k["compensation_target"]
    adc_bits = None
    if k["adc_policy"] == "robust":
        n = min(300, workload.x_calib.shape[0])
        x_c = workload.x_calib[:n]
        with torch.no_grad():
            y_c = workload.model(x_c).argmax(-1)  # the float model's labels on calibration data
        plan = correctnet.choose_adc_bits(
            config, correctnet.without_compensators(model), x_c, y_c, seed=seed
        )
        adc_bits = _mapped_names(model, plan.bits)
        details["adc_bits"] = adc_bits
        details["adc_energy_saving_predicted"] = plan.adc_energy_saving
    prepared = Prepared(
        model=model,
        train_time_s=time.perf_counter() - start,
        compensated=compensated,
        adc_bits=adc_bits,
        details=details,
    )
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = prepared
    return prepared


def _mapped_names(model: nn.Module, bits: dict[str, int]) -> dict[str, int]:
    """Re-key per-layer bits by the names the analog mapper sees (through wrappers)."""
    mapped = [n for n, _ in crossbar_layers(model)]
    plain = list(bits)
    return {m: bits[p] for m, p in zip(mapped, plain, strict=True)}


def _search_compensation(
    model: nn.Module,
    names: list[str],
    x: torch.Tensor,
    y: torch.Tensor,
    config: CrossbarConfig,
    seed: int,
    chip: dict[str, torch.Tensor] | None = None,
) -> list[str]:
    """Greedy subset search; reward = accuracy under injected noise on a held-out slice of
    the training data minus 0.01 per compensated layer (each candidate trained against
    ``chip`` as well when given)."""
    n_val = max(64, x.shape[0] // 5)
    x_tr, y_tr, x_val, y_val = x[n_val:], y[n_val:], x[:n_val], y[:n_val]
    single = {
        n: correctnet.train_compensators(model, [n], x_tr, y_tr, config, epochs=2, seed=seed,
                                         chip=chip)
        for n in names
    }

    def reward(subset: tuple[str, ...]) -> float:
        m = correctnet.combine_compensators(model, {n: single[n] for n in subset})
        return noisy_accuracy(m, x_val, y_val, config, draws=4, seed=seed) - 0.01 * len(subset)

    return correctnet.select_compensation(names, reward, method="greedy").layers


def noisy_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: CrossbarConfig,
    *,
    draws: int = 4,
    seed: int = 0,
) -> float:
    """Mean accuracy over ``draws`` weight/read-noise injections (:mod:`resna`'s injector)."""
    inj = resna.CrossbarNoiseInjector(config)
    gen = torch.Generator().manual_seed(seed)
    layers = crossbar_layers(model)
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=n: inj.output(n, o, i[0], mod, gen))
        for n, m in layers
    ]
    accs = []
    try:
        for _ in range(draws):
            params = {f"{n}.weight": inj.weight(n, m.weight, gen) for n, m in layers}
            with torch.no_grad():
                out = torch.func.functional_call(model, params, (x,), strict=False)
            accs.append(float((out.argmax(-1) == y).float().mean()))
    finally:
        for h in hooks:
            h.remove()
    return sum(accs) / len(accs)


def configure_analog(analog: Any, config: CrossbarConfig, prepared: Prepared) -> None:
    """Install the per-chip knobs in an ``AnalogModel`` (before ``calibrate``/``program``)."""
    k = knobs_of(config)
    if prepared.adc_bits:
        correctnet.apply_adc_bits(analog, prepared.adc_bits)
    faults.apply_fault_mitigation(
        analog,
        k["fault_mitigation"],
        tolerance=k["rvw_tolerance"],
        max_pulses=k["rvw_max_pulses"],
    )


def overhead(config: CrossbarConfig, workload: Any, prepared: Prepared) -> dict[str, Any]:
    r"""What the mitigations cost beyond the plain design.

    Returns:
        ``{"energy_uj": per-inference energy change [µJ] (compensation MACs, per-layer
        ADC bits), "latency_us": latency change [µs] (per-layer ADC bits),
        "compensation": {...}, "programming": {...}, "train_time_s": ...}``; the
        programming entry gives the one-time write energy [µJ] and time [µs] of the chip with
        plain single-pulse programming and with the chosen scheme.
    """
    k = knobs_of(config)
    shapes = layer_shapes(prepared.model, workload.input_shape)
    comp = {"macs": 0.0, "energy_uj": 0.0}
    if prepared.compensated:
        comp = correctnet.compensation_overhead(
            correctnet.without_compensators(prepared.model),
            prepared.compensated,
            workload.input_shape,
            config.tech_node_nm,
        )
    arrays = sum(
        layout_for(s.name, s.kind, s.in_features, s.out_features, config).arrays for s in shapes
    )
    g_mean = 0.5 * (config.g_on_us + config.g_off_us)
    plain = faults.programming_cost(arrays, config.rows, config.cols, g_mean, config.read_voltage_v)
    chosen = plain
    if k["fault_mitigation"] in ("rvw", "both"):
        chosen = faults.programming_cost(
            arrays,
            config.rows,
            config.cols,
            g_mean,
            config.read_voltage_v,
            tolerance=k["rvw_tolerance"],
            max_pulses=k["rvw_max_pulses"],
            stuck_fraction=config.saf_sa0 + config.saf_sa1,
        )
    adc = {"energy_uj": 0.0, "latency_us": 0.0}
    if prepared.adc_bits:
        for shape in shapes:
            bits = prepared.adc_bits.get(shape.name, config.adc_bits)
            if bits == config.adc_bits:
                continue
            low = cost.estimate(config.replace(adc_bits=bits), [shape])
            full = cost.estimate(config, [shape])
            adc["energy_uj"] += low.energy_uj - full.energy_uj
            adc["latency_us"] += low.latency_us - full.latency_us
    return {
        "energy_uj": comp["energy_uj"] + adc["energy_uj"],
        "latency_us": adc["latency_us"],
        "per_layer_adc": adc,
        "compensation": comp,
        "programming": {"plain": plain.to_dict(), "chosen": chosen.to_dict()},
        "train_time_s": prepared.train_time_s,
        "knobs": k,
        **prepared.details,
    }
