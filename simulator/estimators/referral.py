r"""Noise referral: a crossbar configuration's noise referred to each layer's weights and
outputs, as the :class:`~simulator.estimators.moments.LayerNoise` that
:mod:`simulator.estimators.moments` propagates.

Referral (the conventions of :mod:`simulator.mapping` and :mod:`simulator.analog`):

* A weight is ``q · s_w`` with ``s_w = max|w| / (2**(weight_bits-1) - 1)``; its magnitude is
  sliced LSB first into ``S`` cells of ``cell_bits`` bits (digit weight ``2**(s·cell_bits)``),
  one level being ``Δg = (g_on - g_off) / (L - 1)``, ``L = 2**cell_bits``.
* A conductance error of σ·(g_on - g_off) is ``σ (L - 1)`` levels, so the weight error has
  variance ``s_w² σ² (L-1)² c`` with ``c = 2 Σ_s 4**(s·cell_bits)`` for a differential pair
  (both columns noisy) and ``c = Σ_s 4**(s·cell_bits) + (Σ_s 2**(s·cell_bits))²`` for offset
  encoding (the reference column, shared by the outputs of an array, is counted as if it
  were independent). Programming variation gives :attr:`LayerNoise.additive_std`, read noise
  :attr:`LayerNoise.read_std`.
* Read noise is redrawn on every ``dac_bits``-bit input cycle, so its variance is
  ``Σ_c base**(2c) d_c²`` per input instead of ``q²`` (``d_c`` the DAC digits of the input
  code ``q``); :attr:`LayerNoise.read_factor` is the ratio, measured on the calibration
  inputs.
* Stuck-at faults: a cell holding digit ``d`` ends at level 0 with probability ``p0`` and at
  ``L-1`` with ``p1``; the per-weight mean and variance of the resulting error give
  :attr:`LayerNoise.weight_shift` and :attr:`LayerNoise.weight_var`.
* Deterministic errors (input and weight quantization, ADC quantization and clipping, IR
  drop) are measured once by running every layer of the noiseless analog model
  (:class:`simulator.analog_model.AnalogModel` without device effects) on its clean float inputs
  (the first calibration samples holding :data:`DETERMINISTIC_VECTORS` input rows):
  their per-channel mean is :attr:`LayerNoise.output_shift`, the rest
  :attr:`LayerNoise.output_var`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from simulator.analog_model import AnalogModel
from simulator.config import CrossbarConfig
from simulator.estimators.moments import LayerNoise
from simulator.mapping import crossbar_layers, quantize_symmetric, slice_magnitude, unrolled_weight
from simulator.params import DEVICE_PRESETS

__all__ = ["DETERMINISTIC_VECTORS", "layer_noise", "noise_coefficient", "read_factor"]

DETERMINISTIC_VECTORS = 4096
"""Input row vectors (samples x positions) per layer on which the noiseless analog model
measures the deterministic errors (as many as :data:`simulator.analog.CALIBRATION_VECTORS`
calibrate the ADC; whole samples, at least one)."""


def noise_coefficient(config: CrossbarConfig) -> float:
    """``c`` of the module docstring: weight-integer variance per unit level variance."""
    slices = config.slices
    cb = config.cell_bits
    sq = sum(4.0 ** (s * cb) for s in range(slices))
    if config.encoding == "differential":
        return 2.0 * sq
    return sq + sum(2.0 ** (s * cb) for s in range(slices)) ** 2


def read_factor(x: Tensor, config: CrossbarConfig) -> float:
    r"""Read-noise variance factor ``E[Σ_c base**(2c) d_c²] / E[q²]`` of a layer's inputs.

    Args:
        x: Any-shape Tensor of the layer's float inputs (calibration batch).
        config: Gives ``input_bits`` and ``dac_bits``.

    Returns:
        The factor in (0, 1] (1 when every input is applied in one cycle).
    """
    qmax = 2**config.input_bits - 1
    peak = float(x.abs().max()) if x.numel() else 0.0
    if peak == 0 or config.input_cycles == 1:
        return 1.0
    q = torch.clamp(torch.round(x.abs().double() / (peak / qmax)), 0, qmax)
    base = float(2**config.dac_bits)
    rest, total = q.clone(), torch.zeros((), dtype=torch.float64)
    for cycle in range(config.input_cycles):
        digit = torch.remainder(rest, base)
        total = total + (base ** (2 * cycle)) * (digit * digit).sum()
        rest = torch.div(rest - digit, base)
    denom = float((q * q).sum())
    return float(total) / denom if denom > 0 else 1.0


def _saf_moments(
    module: nn.Linear | nn.Conv2d, config: CrossbarConfig
) -> tuple[Tensor, Tensor]:
    """Per-weight mean and variance of the stuck-at-fault error [weight units], each shaped
    like ``module.weight``."""
    p0, p1 = config.saf_sa0, config.saf_sa1
    flat = unrolled_weight(module)
    q, scale = quantize_symmetric(flat.float(), config.weight_bits)
    top = config.levels - 1
    slices, cb = config.slices, config.cell_bits
    digit_w = 2.0 ** (torch.arange(slices, dtype=torch.float64) * cb)

    def cell(d: Tensor) -> tuple[Tensor, Tensor]:
        d = d.double()
        m = -p0 * d + p1 * (top - d)
        return m, p0 * d * d + p1 * (top - d) ** 2 - m * m

    if config.encoding == "differential":
        mp, vp = cell(slice_magnitude(q.clamp_min(0), slices, cb))
        mn, vn = cell(slice_magnitude((-q).clamp_min(0), slices, cb))
        mean = ((mp - mn) * digit_w).sum(-1)
        var = ((vp + vn) * digit_w**2).sum(-1)
    else:
        offset = 2 ** (config.weight_bits - 1) - 1
        mc, vc = cell(slice_magnitude(q + offset, slices, cb))
        ref_m, ref_v = cell(torch.zeros(()))
        mean = (mc * digit_w).sum(-1) - ref_m * digit_w.sum()
        var = (vc * digit_w**2).sum(-1) + ref_v * digit_w.sum() ** 2
    shape = module.weight.shape
    return (mean * scale).reshape(shape), (var * scale**2).reshape(shape)


def _prog_shape_rms(w: Tensor, config: CrossbarConfig) -> float:
    """RMS over a layer's cells of the device preset's programming-noise shape ``s(x)``
    (:class:`~simulator.nonideal.ProgrammingVariation`), weighted like the cells' shares of a
    weight (``4**slice``): 1 for a level-independent preset."""
    shape = DEVICE_PRESETS[config.device].prog_shape
    if len(shape) == 1:
        return float(shape[0])
    q, _ = quantize_symmetric(w.float(), config.weight_bits)
    top = config.levels - 1
    weight = 4.0 ** (torch.arange(config.slices, dtype=torch.float64) * config.cell_bits)
    cells = ([q.clamp_min(0), (-q).clamp_min(0)] if config.encoding == "differential"
             else [q + 2 ** (config.weight_bits - 1) - 1])
    num = den = 0.0
    for part in cells:
        x = slice_magnitude(part, config.slices, config.cell_bits).double() / top
        s = sum(a * x**i for i, a in enumerate(shape))
        num += float((s * s * weight).sum())
        den += float(weight.expand_as(x).sum())
    return math.sqrt(num / den) if den > 0 else 1.0


def _capture(model: nn.Module, x: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
    """Float inputs and outputs of every crossbar layer on ``x``."""
    seen: dict[str, tuple[Tensor, Tensor]] = {}
    handles = [
        module.register_forward_hook(
            lambda mod, inp, out, name=name: seen.__setitem__(name, (inp[0].detach(), out.detach()))
        )
        for name, module in crossbar_layers(model)
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return seen


def layer_noise(
    config: CrossbarConfig,
    model: nn.Module,
    calib_x: Tensor,
    *,
    ir_drop: str = "ideal",
    deterministic: bool = True,
) -> dict[str, LayerNoise]:
    r"""Refer ``config``'s noise to every crossbar layer of ``model`` (module docstring).

    Args:
        config: The crossbar configuration.
        model: The float model (not modified).
        calib_x: A `N x *in_shape`-dim Tensor of calibration inputs (input steps, ADC ranges,
            read factors and the deterministic errors are measured on it).
        ir_drop: IR-drop model of the noiseless analog run (one of
            :data:`~simulator.nonideal.ir_drop.IR_DROP_MODES`).
        deterministic: Measure the deterministic errors with the noiseless analog model
            (``False``: only the stochastic device noise is referred).

    Returns:
        A :class:`LayerNoise` per crossbar layer, keyed by module name.
    """
    window_levels = config.levels - 1
    captured = _capture(model, calib_x)
    analog = None
    if deterministic:
        analog = AnalogModel(model, config, ir_drop=ir_drop, nonidealities=[], adc=True)
        analog.calibrate(calib_x)
        analog.program(1)
    out: dict[str, LayerNoise] = {}
    for name, module in crossbar_layers(model):
        x_in, y_float = captured[name]
        w = unrolled_weight(module)
        _, s_w = quantize_symmetric(w.float(), config.weight_bits)
        coeff = noise_coefficient(config)
        level_std = s_w * window_levels * math.sqrt(coeff)
        shift = var = None
        if config.saf_sa0 > 0 or config.saf_sa1 > 0:
            shift, var = _saf_moments(module, config)
        output_shift, output_var = None, 0.0
        if analog is not None:
            # The first samples holding DETERMINISTIC_VECTORS input rows (a conv layer at 32x32
            # needs 4 images, not the whole calibration batch).
            layer = analog.layers[name]
            keep = min(x_in.shape[0], max(1, math.ceil(DETERMINISTIC_VECTORS / layer.positions)))
            with torch.no_grad():
                err = (layer(x_in[:keep]) - y_float[:keep]).double()
            dims = [d for d in range(err.dim()) if d != 1]
            output_shift = err.mean(dim=dims)
            view = (1, -1) + (1,) * (err.dim() - 2)
            output_var = float(((err - output_shift.view(view)) ** 2).mean())
        out[name] = LayerNoise(
            additive_std=level_std * config.prog_sigma * _prog_shape_rms(w, config),
            read_std=level_std * config.read_sigma,
            read_factor=read_factor(x_in, config),
            output_var=output_var,
            weight_var=var,
            weight_shift=shift,
            output_shift=output_shift,
        )
    return out
