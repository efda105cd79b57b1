r"""The Monte-Carlo accuracy estimator (``"montecarlo"``).

``S = plan.n_draws`` chips are programmed at once (programming variation and stuck-at faults
drawn per chip, :meth:`simulator.analog_model.AnalogModel.program`), the plan's test subset is read
through every one of them (read noise drawn per read), and the accuracy of each chip is one
draw. The workload's model is first prepared by the mitigation knobs
(:func:`simulator.mitigation.apply.prepare`), whose per-chip parts are installed in the
analog model (:func:`simulator.mitigation.apply.configure_analog`). Everything random derives
from ``seed`` through one ``torch.Generator``.

Two read-out models, two registered estimators: ``"montecarlo"`` digitizes every slice column
in every cycle (exact, :func:`monte_carlo_estimate`), ``"montecarlo_column_sum"`` digitizes
the slice-summed column current once per cycle (:func:`column_sum_estimate`, the fast tier of
:mod:`simulator.readout` for the lowest fidelities).
"""

from __future__ import annotations

import torch

from simulator.analog_model import AnalogModel
from simulator.config import CrossbarConfig
from simulator.estimators.base import AccuracyEstimate, EstimatorPlan, stratified_subset
from simulator.mitigation.apply import configure_analog, overhead, prepare
from simulator.workloads import Workload

__all__ = ["column_sum_estimate", "monte_carlo_estimate"]


def monte_carlo_estimate(
    config: CrossbarConfig, workload: Workload, plan: EstimatorPlan, seed: int,
    readout: str = "per_slice",
) -> AccuracyEstimate:
    r"""Accuracy of ``plan.n_draws`` simulated chips on the plan's stratified test subset.

    Args:
        config: The crossbar configuration (its mitigation knobs are applied first).
        workload: The workload.
        plan: The fidelity plan (draws, IR-drop model, test subset size, fine-tuning fidelity).
        seed: Seed of every random draw and of the training-time knobs.
        readout: One of :data:`simulator.analog.READOUTS`.

    Returns:
        An :class:`~simulator.estimators.base.AccuracyEstimate`: one accuracy per chip; the
        details hold the float model's accuracy, the per-layer mapping (layout, positions,
        input step, ADC range [µA], weight step) and the mitigation overhead.
    """
    x, y = stratified_subset(workload, plan)
    n_test = int(y.shape[0])
    prepared = prepare(config, workload, plan.fidelity, seed)
    analog = AnalogModel(prepared.model, config, ir_drop=plan.ir_drop, readout=readout)
    configure_analog(analog, config, prepared)
    analog.calibrate(workload.x_calib)
    gen = torch.Generator().manual_seed(seed)
    analog.set_generator(gen)
    correct = []
    with torch.no_grad():
        # Draws in passes that bound the memory of programmed conductances (one pass unless
        # a draw of the network is large).
        for draws in analog.draw_passes(plan.n_draws):
            analog.program(draws, gen)
            hits = torch.zeros(draws, dtype=torch.float64)
            for chunk in analog.chunks(n_test):
                logits = analog(x[chunk])  # S x n x classes
                hits += (logits.argmax(-1) == y[chunk]).sum(-1).to(torch.float64)
            correct.append(hits)
        correct = torch.cat(correct)
        software = float((workload.model(x).argmax(-1) == y).float().mean())
    layers = []
    for layer in analog.layers.values():
        lo, hi = layer.adc_range or (0.0, 0.0)
        layers.append({
            **layer.layout.to_dict(),
            "positions": layer.positions,
            "input_step": layer.input_scale,
            "signed_inputs": layer.signed_inputs,
            "adc_range_ua": [lo, hi],
            "weight_step": layer.mapped.weight_scale,
        })
    return AccuracyEstimate(
        per_draw=(correct / n_test).tolist(),
        n_test=n_test,
        details={
            "software_accuracy": software,
            "readout": readout,
            "layers": layers,
            "mitigation": overhead(config, workload, prepared),
        },
    )


def column_sum_estimate(
    config: CrossbarConfig, workload: Workload, plan: EstimatorPlan, seed: int
) -> AccuracyEstimate:
    """:func:`monte_carlo_estimate` with the column-sum read-out (one ADC conversion of the
    slice-summed current per output and cycle; :mod:`simulator.readout`)."""
    return monte_carlo_estimate(config, workload, plan, seed, readout="column_sum")
