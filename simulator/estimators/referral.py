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
  (:class:`simulator.analog.AnalogLayer` without device effects) on its clean float inputs
  (:data:`DETERMINISTIC_VECTORS` input rows spread over the calibration samples):
  their per-channel mean is :attr:`LayerNoise.output_shift`, the rest
  :attr:`LayerNoise.output_var`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from simulator.analog import AnalogLayer
from simulator.config import CrossbarConfig
from simulator.estimators.captures import LayerCapture, captured_layers, code_counts
from simulator.estimators.moments import LayerNoise
from simulator.mapping import crossbar_layers, quantize_symmetric, slice_magnitude, unrolled_weight
from simulator.params import DEVICE_PRESETS

__all__ = ["DETERMINISTIC_VECTORS", "layer_noise", "noise_coefficient", "read_factor"]

DETERMINISTIC_VECTORS = 512
"""Input row vectors per layer, a fixed random subset of the calibration batch's (samples x
positions), on which the noiseless analog model measures the deterministic errors (their
per-channel mean and overall variance: ~0.26 M error samples on a 512-channel layer)."""


def noise_coefficient(config: CrossbarConfig) -> float:
    """``c`` of the module docstring: weight-integer variance per unit level variance."""
    slices = config.slices
    cb = config.cell_bits
    sq = sum(4.0 ** (s * cb) for s in range(slices))
    if config.encoding == "differential":
        return 2.0 * sq
    return sq + sum(2.0 ** (s * cb) for s in range(slices)) ** 2


def read_factor(x: Tensor, config: CrossbarConfig, capture: LayerCapture | None = None) -> float:
    r"""Read-noise variance factor ``E[Σ_c base**(2c) d_c²] / E[q²]`` of a layer's inputs.

    Counted on the histogram of the input codes, quantized like
    :meth:`simulator.analog.AnalogLayer._quantize` (in ``x``'s dtype; exact integer sums:
    :func:`~simulator.estimators.captures.code_counts`).

    Args:
        x: Any-shape Tensor of the layer's float inputs (calibration batch).
        config: Gives ``input_bits`` and ``dac_bits``.
        capture: The cached capture whose inputs are ``x`` (memoizes the histogram).

    Returns:
        The factor in (0, 1] (1 when every input is applied in one cycle).
    """
    qmax = 2**config.input_bits - 1
    if not x.numel() or config.input_cycles == 1:
        return 1.0
    counts = code_counts(x, config.input_bits, capture)
    values = torch.arange(qmax + 1, dtype=torch.float64)
    base = float(2**config.dac_bits)
    rest, per_code = values.clone(), torch.zeros_like(values)
    for cycle in range(config.input_cycles):
        digit = torch.remainder(rest, base)
        per_code += (base ** (2 * cycle)) * digit * digit
        rest = torch.div(rest - digit, base)
    denom = float((counts * values * values).sum())
    return float((counts * per_code).sum()) / denom if denom > 0 else 1.0


def _code_values(config: CrossbarConfig) -> Tensor:
    """Every weight integer, ``-(2**(weight_bits-1)-1) .. 2**(weight_bits-1)-1`` (int64)."""
    q_max = 2 ** (config.weight_bits - 1) - 1
    return torch.arange(-q_max, q_max + 1)


def _saf_moments(
    q: Tensor, scale: float, shape: torch.Size, config: CrossbarConfig
) -> tuple[Tensor, Tensor]:
    """Per-weight mean and variance of the stuck-at-fault error [weight units], each shaped
    ``shape``, for the quantized weights ``q`` (a table over the weight integers, indexed)."""
    p0, p1 = config.saf_sa0, config.saf_sa1
    values = _code_values(config)
    top = config.levels - 1
    slices, cb = config.slices, config.cell_bits
    digit_w = 2.0 ** (torch.arange(slices, dtype=torch.float64) * cb)

    def cell(d: Tensor) -> tuple[Tensor, Tensor]:
        d = d.double()
        m = -p0 * d + p1 * (top - d)
        return m, p0 * d * d + p1 * (top - d) ** 2 - m * m

    if config.encoding == "differential":
        mp, vp = cell(slice_magnitude(values.clamp_min(0), slices, cb))
        mn, vn = cell(slice_magnitude((-values).clamp_min(0), slices, cb))
        mean = ((mp - mn) * digit_w).sum(-1)
        var = ((vp + vn) * digit_w**2).sum(-1)
    else:
        offset = 2 ** (config.weight_bits - 1) - 1
        mc, vc = cell(slice_magnitude(values + offset, slices, cb))
        ref_m, ref_v = cell(torch.zeros(()))
        mean = (mc * digit_w).sum(-1) - ref_m * digit_w.sum()
        var = (vc * digit_w**2).sum(-1) + ref_v * digit_w.sum() ** 2
    idx = (q - values[0]).reshape(-1)
    return (mean[idx] * scale).reshape(shape), (var[idx] * scale**2).reshape(shape)


def _prog_shape_rms(q: Tensor, config: CrossbarConfig) -> float:
    """RMS over a layer's cells of the device preset's programming-noise shape ``s(x)``
    (:class:`~simulator.nonideal.ProgrammingVariation`), weighted like the cells' shares of a
    weight (``4**slice``), for the quantized weights ``q``: 1 for a level-independent preset
    (summed over the histogram of the weight integers)."""
    shape = DEVICE_PRESETS[config.device].prog_shape
    if len(shape) == 1:
        return float(shape[0])
    values = _code_values(config)
    counts = torch.bincount((q - values[0]).reshape(-1), minlength=values.numel()).double()
    top = config.levels - 1
    weight = 4.0 ** (torch.arange(config.slices, dtype=torch.float64) * config.cell_bits)
    cells = (
        [values.clamp_min(0), (-values).clamp_min(0)]
        if config.encoding == "differential"
        else [values + 2 ** (config.weight_bits - 1) - 1]
    )
    num = den = 0.0
    for part in cells:
        x = slice_magnitude(part, config.slices, config.cell_bits).double() / top
        s = sum(a * x**i for i, a in enumerate(shape))
        num += float(((s * s * weight).sum(-1) * counts).sum())
        den += float(counts.sum() * weight.sum())
    return math.sqrt(num / den) if den > 0 else 1.0


def layer_noise(
    config: CrossbarConfig,
    model: nn.Module,
    calib_x: Tensor,
    *,
    ir_drop: str = "ideal",
    deterministic: bool = True,
) -> dict[str, LayerNoise]:
    r"""Refer ``config``'s noise to every crossbar layer of ``model`` (module docstring).

    One float pass over ``calib_x`` gives every layer's inputs (cached per model and batch:
    :func:`~simulator.estimators.captures.captured_layers`, the configuration-independent part,
    so a worker pays it once per workload); each layer is then mapped,
    calibrated and read on its nominal arrays (:meth:`simulator.analog.AnalogLayer.
    nominal_forward`: exact integer products with ideal wires) one at a time, exactly as
    :class:`~simulator.analog_model.AnalogModel` calibrates it.

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
    captured = captured_layers(model, calib_x, DETERMINISTIC_VECTORS)
    out: dict[str, LayerNoise] = {}
    for name, module in crossbar_layers(model):
        capture = captured[name]
        x_in, rows, y_rows = capture.x, capture.rows, capture.y_rows
        w = unrolled_weight(module)
        q, s_w = quantize_symmetric(w.float(), config.weight_bits)
        coeff = noise_coefficient(config)
        level_std = s_w * window_levels * math.sqrt(coeff)
        shift = var = None
        if config.saf_sa0 > 0 or config.saf_sa1 > 0:
            shift, var = _saf_moments(q, s_w, module.weight.shape, config)
        output_shift, output_var = None, 0.0
        if deterministic:
            # DETERMINISTIC_VECTORS input rows drawn from the calibration batch, read on the
            # nominal chip: `M x out` errors, their per-channel mean and the rest's variance.
            layer = AnalogLayer(name, module, config, ir_drop=ir_drop, nonidealities=[], adc=True)
            layer.calibrate(x_in)
            key = ("rows", layer.dtype)  # the unrolled rows depend on the geometry alone
            if key not in capture.derived:
                capture.derived[key] = layer.unroll_rows(x_in, rows)
            err = (layer.nominal_rows(capture.derived[key])[0] - y_rows).double()
            del layer
            output_shift = err.mean(0)
            output_var = float(((err - output_shift) ** 2).mean())
        out[name] = LayerNoise(
            additive_std=level_std * config.prog_sigma * _prog_shape_rms(q, config),
            read_std=level_std * config.read_sigma,
            read_factor=read_factor(x_in, config, capture),
            output_var=output_var,
            weight_var=var,
            weight_shift=shift,
            output_shift=output_shift,
        )
    return out
