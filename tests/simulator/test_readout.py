"""The read-out kernels (simulator.readout) against a per-slice reference written as the spec:
one loop per draw, row tile, cycle and slice column, in float64, with the same random stream;
the column-sum tier; and the analog layers in float64."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from simulator import CrossbarConfig
from simulator.analog import AnalogLayer
from simulator.analog_model import AnalogModel
from simulator.nominal import KERNELS, NominalArrays
from simulator.readout import _block, current_range, read_layer


def reference_read(
    layer: AnalogLayer,
    x: torch.Tensor,
    generator: torch.Generator | None,
    *,
    column_sum: bool = False,
) -> torch.Tensor:
    r"""The spec of one layer read, written plainly: `S·N x ...` inputs -> `S x M x out`.

    For draw s, row tile t, pass/cycle p, input vector m and physical column j:
    ``I = Σ_i v[p, m, i] g[s, t, i, j]`` [µA] with ``v`` the DAC digit times ``V_unit``,
    ``code = clamp(round((I + σ ||v|| ε - lo) / step), 0, top)``, and
    ``y = Σ_j combine[j] (Σ_{t,p} w_p (code step + lo)) / (V_unit Δg)``, then the digital
    offset, scales and bias. The noise ``ε`` is drawn in the kernel's documented order
    (draw, block of input vectors, row tile; one `P·C·block x n` draw each, cycle-major:
    row ``p·block + m``). With
    ``column_sum`` the columns are ``g @ combine`` and the noise of output o is scaled by
    ``||combine[:, o]||``.
    """
    c = layer.config
    s_draws = layer.g_eff.shape[0]
    q = layer._quantize(layer._unroll(x.to(layer.dtype), s_draws))  # S x M x K
    g = layer.g_eff
    combine = layer.mapped.combine.to(g)
    col_noise = torch.ones(g.shape[-1], dtype=g.dtype)
    if column_sum:
        g, col_noise = g @ combine, torch.linalg.vector_norm(combine, dim=0)
    plan = layer._plan(adc=True)
    lo, step, top = plan.adc
    sigma = plan.sigma_us
    t_r, rows_used, n = g.shape[1:]
    m_total, k = q.shape[1:]
    # Digits: pass 0 = positive part, pass 1 = negative part; cycles LSB first.
    parts = [q.clamp_min(0), (-q).clamp_min(0)] if layer.signed_inputs else [q]
    digits, weights = [], []
    for sign, part in zip((1.0, -1.0), parts, strict=False):
        for cycle in range(c.input_cycles):
            digits.append(torch.floor(part / 2 ** (c.dac_bits * cycle)) % 2**c.dac_bits)
            weights.append(sign * 2.0 ** (c.dac_bits * cycle))
    pc = len(digits)
    pad = t_r * c.rows - k if t_r > 1 else 0
    volts = [nn.functional.pad(d, (0, pad)) * layer._v_unit for d in digits]  # S x M x K'
    eps = torch.zeros(s_draws, t_r, pc, m_total, n, dtype=g.dtype)
    mb = _block(n, plan)
    for s in range(s_draws):
        for m0 in range(0, m_total, mb):
            m1 = min(m_total, m0 + mb)
            for t in range(t_r):
                if sigma > 0:
                    e = torch.randn((m1 - m0) * pc, n, generator=generator, dtype=g.dtype)
                    eps[s, t, :, m0:m1] = e.view(pc, m1 - m0, n)
    summed = torch.zeros(s_draws, m_total, n, dtype=g.dtype)
    for s in range(s_draws):
        for t in range(t_r):
            for p in range(pc):
                v = volts[p][s][:, t * c.rows : t * c.rows + rows_used]  # M x rows
                norm = torch.linalg.vector_norm(v, dim=-1)
                for j in range(n):
                    current = v @ g[s, t, :, j] + sigma * norm * col_noise[j] * eps[s, t, p, :, j]
                    code = torch.clamp(torch.round((current - lo) / step), 0, top)
                    summed[s, :, j] += weights[p] * (code * step + lo)
    levels = summed / (layer._v_unit * layer._dg)
    y = levels if column_sum else levels @ combine
    if layer.mapped.offset:
        y = y - layer.mapped.offset * q.sum(-1, keepdim=True)
    y = y * (layer.mapped.weight_scale * layer.input_scale)
    if layer.bias is not None:
        y = y + layer.bias.to(y.dtype)
    return y


CASES = [
    # differential pairs, 1-bit cells, bit-serial, signed inputs, 3 row tiles
    {
        "rows": 32,
        "cols": 64,
        "adc_bits": 5,
        "read_sigma": 0.02,
        "prog_sigma": 0.05,
        "saf_sa0": 0.01,
        "saf_sa1": 0.01,
        "input_bits": 4,
    },
    # offset encoding with reference columns, 2-bit cells, 2-bit DAC, 2 column tiles
    {
        "rows": 64,
        "cols": 32,
        "cell_bits": 2,
        "dac_bits": 2,
        "encoding": "offset",
        "adc_bits": 6,
        "read_sigma": 0.03,
        "input_bits": 6,
        "weight_bits": 6,
    },
]


@pytest.mark.parametrize("column_sum", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_blocked_read_equals_per_slice_reference(case: dict, column_sum: bool, monkeypatch) -> None:
    """In float64 with a seeded random stream the blocked kernel (noise folded into the
    accumulator, ADC folded into the conductances) gives the reference's outputs exactly."""
    monkeypatch.setattr("simulator.readout.BLOCK_ELEMENTS", 1 << 11)  # several blocks
    torch.manual_seed(0)
    linear = nn.Linear(80, 12)
    cfg = CrossbarConfig(**case)
    layer = AnalogLayer(
        "fc",
        linear,
        cfg,
        ir_drop="first_order",
        readout="column_sum" if column_sum else "per_slice",
        dtype=torch.float64,
    )
    x = torch.randn(7, 80, dtype=torch.float64)  # signed inputs: two sign passes
    layer.calibrate(x)
    assert layer.signed_inputs and layer.layout.row_tiles >= 2
    layer.program(3, torch.Generator().manual_seed(1))
    xs = x.repeat(3, 1)
    layer.generator = torch.Generator().manual_seed(2)
    got = layer(xs).view(3, 7, -1)
    want = reference_read(layer, xs, torch.Generator().manual_seed(2), column_sum=column_sum)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    # The noise matters: another stream gives other outputs.
    layer.generator = torch.Generator().manual_seed(3)
    assert not torch.allclose(layer(xs).view(3, 7, -1), want)


def test_codes_are_integers_and_ideal_readout_is_linear() -> None:
    """Without an ADC the kernel returns the shift-added currents: the exact integer dot
    product (in level units) on nominal arrays; with one the sums are integer codes."""
    torch.manual_seed(0)
    linear = nn.Linear(40, 6)
    cfg = CrossbarConfig(
        rows=32, cols=64, read_sigma=0.0, prog_sigma=0.0, saf_sa0=0.0, saf_sa1=0.0, input_bits=4
    )
    layer = AnalogLayer("fc", linear, cfg, dtype=torch.float64, adc=False)
    x = torch.rand(5, 40, dtype=torch.float64)
    layer.calibrate(x)
    layer.program(1)
    q = layer._quantize(layer._unroll(x, 1))
    combine = layer.mapped.combine.to(torch.float64)
    plan = layer._plan(adc=False)
    ideal = read_layer(q, layer.g_eff, plan, combine) / (layer._v_unit * layer._dg)
    w_int = torch.round(linear.weight.detach().double() / layer.mapped.weight_scale)
    torch.testing.assert_close(ideal[0], q[0] @ w_int.t(), rtol=1e-9, atol=1e-9)
    layer.adc = True
    codes = read_layer(q, layer.g_eff, layer._plan(adc=True))
    assert torch.equal(codes, codes.round()) and codes.abs().max() > 0


def test_float64_model_and_column_sum_tier_track_the_float_model() -> None:
    """A whole model in float64, exact and column-sum read-outs, with fine ADCs and no noise,
    stays within a few percent of the float logits; the two tiers differ."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 5)
    )
    x = torch.rand(4, 3, 6, 6)
    cfg = CrossbarConfig(adc_bits=10, read_sigma=0.0, prog_sigma=0.0, saf_sa0=0.0, saf_sa1=0.0)
    ref = model(x).detach().double()
    outs = {}
    for readout in ("per_slice", "column_sum"):
        analog = AnalogModel(model, cfg, readout=readout, dtype=torch.float64)
        analog.calibrate(x)
        analog.program(2)
        out = analog(x)
        assert out.dtype == torch.float64 and out.shape == (2, 4, 5)
        err = (out - ref).abs().max() / ref.abs().max()
        assert err < 0.05, (readout, float(err))
        outs[readout] = out
    assert not torch.equal(outs["per_slice"], outs["column_sum"])


def test_draw_passes_bound_programmed_memory() -> None:
    """Draws are split into passes whose programmed conductances fit the budget."""
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    analog = AnalogModel(model, CrossbarConfig())
    per_draw = 4 * sum(layer.mapped.levels.numel() for layer in analog.layers.values())
    assert analog.draw_passes(16) == [16]
    assert analog.draw_passes(16, budget_bytes=5 * per_draw) == [5, 5, 5, 1]
    assert analog.draw_passes(3, budget_bytes=1) == [1, 1, 1]


def test_in_place_programming_equals_the_out_of_place_effect_chain() -> None:
    """program() (one buffer, built-in effects in place, the on-grid level quantization
    skipped) gives bit for bit the conductances of the plain out-of-place effect chain."""
    torch.manual_seed(0)
    cfg = CrossbarConfig(rows=32, cols=64, saf_sa0=0.02, saf_sa1=0.02)  # wan2022: sigma(g)
    layer = AnalogLayer("fc", nn.Linear(80, 12), cfg)
    assert len(layer.effects) >= 3
    layer.program(3, torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(1)
    g = layer.nominal_conductance().unsqueeze(0).expand(3, *layer.mapped.levels.shape)
    for effect in layer.effects:
        g = effect.apply_to_conductance(g, gen)
    s, t_r, t_c, rows, cols = g.shape
    flat = g.permute(0, 1, 3, 2, 4).reshape(s, t_r, rows, t_c * cols)  # read columns by index
    want = flat.index_select(-1, layer.mapped.used_index)[:, :, : min(rows, 80)]
    assert layer._used_is_prefix and torch.equal(layer.g_eff, want)
    assert not torch.equal(layer.g_eff[0], layer.g_eff[1])  # independent draws


@pytest.mark.parametrize("case", CASES)
def test_nominal_integer_path_equals_the_float_read_of_the_nominal_chip(case: dict) -> None:
    """On ideal wires the exact integer products give the float path's ADC range and, read
    through the ADC, its outputs (ties of the noise-free codes aside); without ADC the same
    currents."""
    torch.manual_seed(0)
    cfg = CrossbarConfig(**case)
    layer = AnalogLayer("fc", nn.Linear(80, 12), cfg, nonidealities=[], dtype=torch.float64)
    x = torch.randn(40, 80, dtype=torch.float64)
    layer.calibrate(x)
    plan = layer._plan(adc=False)
    assert layer._nominal_arrays(plan) is not None and layer.layout.row_tiles >= 2
    g = layer._read_view(layer._conductance())
    want = current_range(layer._quantize(layer._unroll(x, 1)), g, plan)
    assert layer.adc_range == pytest.approx(want, rel=1e-12)
    layer.program(1)
    got, ref = layer.nominal_forward(x), layer(x)
    same = torch.isclose(got, ref, rtol=1e-12, atol=1e-9)
    assert float(same.double().mean()) > 0.95, float(same.double().mean())
    layer.adc = False
    torch.testing.assert_close(layer.nominal_forward(x), layer(x), rtol=1e-12, atol=1e-9)
    # Another input step moves every output: the comparison can fail.
    layer.input_scale *= 1.1
    assert not torch.allclose(layer.nominal_forward(x), ref)


@pytest.mark.parametrize("kernel", KERNELS)
def test_nominal_tile_products_are_the_same_integers_on_every_kernel(
        kernel: str, monkeypatch) -> None:
    """``NominalArrays.tile_currents`` runs the fastest exact kernel of the machine
    (``torch._int_mm``, oneDNN's u8 x s8 quantized linear, or float32): each gives the
    integer sums ``v @ L`` (every partial sum below 2**24), whichever the probe picks,
    including the largest digits and levels (int16 pair sums of the u8 x s8 kernel)."""
    if kernel == "onednn" and not hasattr(torch.ops.onednn, "qlinear_pointwise"):
        pytest.skip("torch built without oneDNN")
    monkeypatch.setattr("simulator.nominal._kernel", lambda device_type: kernel)
    gen = torch.Generator().manual_seed(3)
    levels = torch.randint(0, 16, (2, 512, 24), dtype=torch.int8, generator=gen)
    v = torch.randint(0, 128, (32, 512), dtype=torch.int8, generator=gen)
    arrays = NominalArrays(levels=levels, g_off_us=1.0, dg_us=2.0)
    prod, vsum = arrays.tile_currents(v, 1)
    want = v.long() @ levels[1].long()
    assert int(want.max()) > 2**17  # large sums: a lossy product would show
    assert torch.equal(prod.long(), want)
    assert torch.equal(vsum.long(), v.long().sum(-1, keepdim=True))
    top = torch.full((2, 512, 24), 127, dtype=torch.int8)
    v = torch.full((20, 512), 127, dtype=torch.int8)
    prod, _ = NominalArrays(levels=top, g_off_us=1.0, dg_us=2.0).tile_currents(v, 0)
    assert torch.equal(prod.long(), torch.full((20, 24), 512 * 127 * 127))
