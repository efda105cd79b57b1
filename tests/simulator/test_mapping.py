"""Mapping: quantization, slicing, tiling and the ideal analog layer equal to the float layer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from simulator import CrossbarConfig, MappingError
from simulator.analog import AnalogLayer
from simulator.analog_model import AnalogModel
from simulator.cost import map_layer
from simulator.mapping import (
    DigitalModule,
    crossbar_layers,
    layer_shapes,
    map_weight,
    quantize_symmetric,
    slice_magnitude,
)
from simulator.tiling import layout_for

NOISELESS = {"prog_sigma": 0.0, "read_sigma": 0.0, "saf_sa0": 0.0, "saf_sa1": 0.0}


def test_slice_magnitude_reconstructs() -> None:
    """LSB-first digits of cell_bits bits recombine to the original integers."""
    m = torch.arange(0, 256)
    for cb, slices in ((1, 8), (2, 4), (3, 3), (4, 2)):
        d = slice_magnitude(m, slices, cb)
        assert d.shape == torch.Size([256, slices]) and int(d.max()) < 2**cb
        assert torch.equal((d * 2 ** (torch.arange(slices) * cb)).sum(-1), m)


def test_quantize_symmetric_error_bound() -> None:
    """|x - q·s| <= s/2 and q stays in the signed range."""
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    for bits in (2, 4, 8):
        q, s = quantize_symmetric(x, bits)
        assert int(q.abs().max()) == 2 ** (bits - 1) - 1
        assert float((x - q * s).abs().max()) <= s / 2 + 1e-6


@pytest.mark.parametrize("encoding", ["differential", "offset"])
def test_combine_matrix_recovers_integer_weights(encoding: str) -> None:
    """Combining the columns' stored levels (per row) gives the integer weight plus the
    encoding's offset (0 for a differential pair, 2**(bits-1)-1 for offset encoding)."""
    cfg = CrossbarConfig(rows=32, cols=32, cell_bits=2, weight_bits=6, encoding=encoding)
    w = torch.randn(20, 40, generator=torch.Generator().manual_seed(1))
    m = map_weight("fc", "linear", w, cfg)
    q, _ = quantize_symmetric(w, 6)
    levels = m.levels.permute(0, 2, 1, 3).reshape(m.layout.row_tiles * 32, -1).double()
    per_col = levels[:, m.used_index]  # rows x n_used
    recovered = per_col @ m.combine.double()  # rows x out: Σ_cols level · combine
    assert m.offset == (0 if encoding == "differential" else 31)
    torch.testing.assert_close(recovered[:40], (q.t() + m.offset).double())
    assert float(recovered[40:].abs().max()) == 0.0  # padded rows hold nothing
    assert m.layout.row_tiles == 2 and m.layout.arrays == m.levels.shape[0] * m.levels.shape[1]


def _reference(module: nn.Module, x: torch.Tensor, cfg: CrossbarConfig) -> torch.Tensor:
    """The float layer with quantized weights and inputs (what ideal hardware computes)."""
    q, s = quantize_symmetric(module.weight.detach(), cfg.weight_bits)
    qmax = 2**cfg.input_bits - 1
    step = float(x.abs().max()) / qmax
    xq = torch.clamp(torch.round(x / step), -qmax if float(x.min()) < 0 else 0, qmax) * step
    if isinstance(module, nn.Conv2d):
        return F.conv2d(xq, q * s, module.bias, module.stride, module.padding)
    return F.linear(xq, q * s, module.bias)


@pytest.mark.parametrize(
    ("encoding", "cell_bits", "dac_bits", "signed"),
    [("differential", 1, 1, False), ("offset", 2, 2, True), ("differential", 3, 4, True),
     ("offset", 4, 1, False)],
)
def test_ideal_layer_equals_quantized_float_layer(
    encoding: str, cell_bits: int, dac_bits: int, signed: bool
) -> None:
    """Without noise, IR drop or ADC, the tiled, sliced, bit-serial layer equals the float
    layer on quantized weights and inputs (to float32 rounding), for linear and conv layers
    spanning several row and column tiles."""
    gen = torch.Generator().manual_seed(2)
    cfg = CrossbarConfig(rows=32, cols=32, encoding=encoding, cell_bits=cell_bits,
                         dac_bits=dac_bits, **NOISELESS)
    lin = nn.Linear(70, 12)
    conv = nn.Conv2d(5, 7, 3, padding=1, stride=2)
    for module, x in ((lin, torch.rand(9, 70, generator=gen)),
                      (conv, torch.rand(3, 5, 9, 9, generator=gen))):
        if signed:
            x = x - 0.5
        layer = AnalogLayer("m", module, cfg, adc=False)
        layer.calibrate(x)
        layer.program(1)
        y = layer(x)
        ref = _reference(module, x, cfg)
        assert y.shape == ref.shape
        torch.testing.assert_close(y, ref.detach(), rtol=1e-4, atol=1e-4)


def test_quantization_error_shrinks_with_bits() -> None:
    """Relative output error vs the float model falls as weight, input and ADC bits grow."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).requires_grad_(False)
    x = torch.rand(128, 64, generator=torch.Generator().manual_seed(4))
    ref = model(x)

    def err(**kw) -> float:
        am = AnalogModel(model, CrossbarConfig(**{**NOISELESS, "wire_r_ohm": 0.0, **kw}))
        am.calibrate(x)
        am.program(1)
        return float((am(x)[0] - ref).norm() / ref.norm())

    for name, values in (("weight_bits", (3, 5, 8)), ("input_bits", (2, 4, 8)),
                         ("adc_bits", (3, 6, 10))):
        errors = [err(**{name: v, "adc_bits": 10} if name != "adc_bits" else {name: v})
                  for v in values]
        assert errors[0] > errors[1] > errors[2], (name, errors)
    assert err(adc_bits=10) < 0.02


def test_unmappable_layers_are_named() -> None:
    """Grouped convolutions, Conv1d and embeddings raise a MappingError naming the layer."""
    with pytest.raises(ValueError, match="'1'.*grouped"):
        crossbar_layers(nn.Sequential(nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3, groups=2)))
    with pytest.raises(MappingError, match="'enc'"):
        crossbar_layers(nn.ModuleDict({"enc": nn.Conv1d(2, 2, 3)}))
    with pytest.raises(MappingError, match="'emb'.*Embedding"):
        crossbar_layers(nn.ModuleDict({"emb": nn.Embedding(5, 3), "fc": nn.Linear(3, 2)}))
    with pytest.raises(MappingError, match="no nn.Linear"):
        crossbar_layers(nn.Sequential(nn.ReLU()))
    with pytest.raises(MappingError, match="padding_mode"):
        crossbar_layers(nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"))


def _gain_after_linear(base: type[nn.Module]) -> nn.Module:
    """A ``base`` module holding a Linear(4, 3) child and a gain parameter of its own."""

    class Gain(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Linear(4, 3)
            self.gain = nn.Parameter(torch.ones(3))

    return Gain()


def test_digital_module_parameters_stay_off_the_crossbars() -> None:
    """A DigitalModule holding its own parameters is mapped through: its child layer goes
    onto crossbars under its own name and its parameters stay digital; the same module as a
    plain nn.Module is a mapping error naming it."""
    model = nn.Sequential(_gain_after_linear(DigitalModule), nn.Linear(3, 2))
    assert [name for name, _ in crossbar_layers(model)] == ["0.inner", "1"]
    with pytest.raises(MappingError, match="'0'.*Gain"):
        crossbar_layers(nn.Sequential(_gain_after_linear(nn.Module), nn.Linear(3, 2)))


def test_layer_shapes_of_a_cnn() -> None:
    """Conv layers report C_in·kh·kw rows and H_out·W_out positions; linear layers 1."""
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3), nn.Flatten(), nn.Linear(64, 10))
    shapes = layer_shapes(model, (1, 8, 8))
    assert [(s.name, s.kind, s.in_features, s.out_features, s.positions) for s in shapes] == [
        ("0", "conv", 9, 8, 64), ("3", "conv", 72, 16, 4), ("5", "linear", 64, 10, 1)
    ]


@pytest.mark.parametrize("rows,cols,cell_bits,weight_bits", [(64, 64, 1, 8), (128, 32, 2, 5),
                                                            (32, 256, 4, 8)])
def test_offset_layout_matches_cost_model(rows: int, cols: int, cell_bits: int,
                                          weight_bits: int) -> None:
    """With offset encoding the tile counts agree with simulator.cost's mapping."""
    cfg = CrossbarConfig(rows=rows, cols=cols, cell_bits=cell_bits, weight_bits=weight_bits,
                         encoding="offset")
    shape = layer_shapes(nn.Linear(300, 50), (300,))[0]
    mine = layout_for("0", "linear", 300, 50, cfg)
    theirs = map_layer(cfg, shape)
    assert (mine.row_tiles, mine.col_tiles, mine.used_cols) == (
        theirs.row_tiles, theirs.col_tiles, theirs.used_cols
    )
    assert 0 < mine.utilization <= 1


def test_bare_layer_as_model_is_mapped() -> None:
    """A bare nn.Linear given as the whole model runs on the crossbar (its output differs from
    the float layer at 3-bit weights), not silently as the float layer."""
    gen = torch.Generator().manual_seed(0)
    lin = nn.Linear(40, 8)
    x = torch.rand(16, 40, generator=gen)
    cfg = CrossbarConfig(rows=32, cols=32, weight_bits=3, **NOISELESS)
    analog = AnalogModel(lin, cfg, adc=False)
    assert list(analog.layers) == ["0"]
    analog.calibrate(x)
    analog.program(1, gen)
    y = analog(x)[0]
    err = (y - lin(x)).abs().max().item()
    assert 1e-3 < err < 0.5 * lin(x).abs().max().item()
