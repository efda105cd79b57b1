"""The NeuroSim-sized workloads (simulator.workloads.digits32, architectures): published layer
shapes, the upsampled data set, deterministic cached training, and the analog pipeline on a
network with batch norm and residual additions."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from simulator import CrossbarConfig, evaluate, get_workload, list_workloads
from simulator.analog_model import AnalogModel
from simulator.errors import WorkloadError
from simulator.mapping import layer_shapes
from simulator.workloads.architectures import resnet20, vgg8
from simulator.workloads.digits32 import load_digits32_split


def test_vgg8_has_neurosim_layer_shapes() -> None:
    """(kind, unrolled rows, outputs, positions) of NeuroSim's NetWork_VGG8 on 32x32x3."""
    shapes = [(s.kind, s.in_features, s.out_features, s.positions)
              for s in layer_shapes(vgg8(), (3, 32, 32))]
    assert shapes == [
        ("conv", 27, 128, 1024), ("conv", 1152, 128, 1024),
        ("conv", 1152, 256, 256), ("conv", 2304, 256, 256),
        ("conv", 2304, 512, 64), ("conv", 4608, 512, 64),
        ("linear", 8192, 1024, 1), ("linear", 1024, 10, 1),
    ]


def test_resnet20_has_cifar_shapes() -> None:
    """19 convolutions (16/32/64 channels, 32/16/8 px) plus the 64->10 classifier."""
    shapes = layer_shapes(resnet20(), (3, 32, 32))
    assert len(shapes) == 20
    assert (shapes[0].in_features, shapes[0].out_features, shapes[0].positions) == (27, 16, 1024)
    assert [s.out_features for s in shapes[1:19:6]] == [16, 32, 64]
    assert [s.positions for s in shapes[1:19:6]] == [1024, 256, 64]
    assert (shapes[-1].kind, shapes[-1].in_features, shapes[-1].out_features) == ("linear", 64, 10)
    assert sum(p.numel() for p in resnet20().parameters()) == pytest.approx(0.27e6, rel=0.02)


def test_resnet20_analog_model_follows_the_float_model() -> None:
    """Batch norm and the option-A shortcuts stay digital: with fine ADCs and no device noise
    the analog logits track the float ones."""
    torch.manual_seed(0)
    model = resnet20(divisor=4).eval()
    x = load_digits32_split()[2][:3]
    cfg = CrossbarConfig(adc_bits=10, weight_bits=8, read_sigma=0.0, prog_sigma=0.0,
                         saf_sa0=0.0, saf_sa1=0.0)
    analog = AnalogModel(model, cfg)
    analog.calibrate(x)
    analog.program(1)
    with torch.no_grad():
        ref, out = model(x), analog(x)[0]
    assert len(analog.layers) == 20
    assert float((out - ref).abs().max() / ref.abs().max()) < 0.1


def test_digits32_split_is_cifar_shaped() -> None:
    x_train, y_train, x_test, y_test = load_digits32_split()
    assert x_train.shape == (1437, 3, 32, 32) and x_test.shape == (360, 3, 32, 32)
    assert float(x_train.min()) >= 0.0 and float(x_train.max()) <= 1.0
    assert torch.equal(x_train[:, 0], x_train[:, 2]) and y_test.bincount().min() >= 35


def test_small_vgg8_trains_caches_and_evaluates(model_cache: Path) -> None:
    """divisor=8 trains deterministically to a useful accuracy, is cached, and runs through
    evaluate() at the lowest fidelity with the column-sum tier."""
    w = get_workload("vgg8", divisor=8, test_limit=60)
    assert w.metadata["clean_accuracy"] > 0.8 and w.y_test.shape[0] == 60
    again = get_workload("vgg8", divisor=8, test_limit=60)
    assert again.from_cache and not w.from_cache
    for p, q in zip(w.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(p, q)
    ev = evaluate(CrossbarConfig(column_sum_below=0.1), w, 0.0, seed=0)
    assert ev.details["estimator"] == "montecarlo_column_sum"
    assert ev.details["readout"] == "column_sum" and ev.details["tiles"] > 0
    assert ev.accuracy > w.metadata["clean_accuracy"] - 0.15


def test_options_and_listing() -> None:
    names = {d["name"]: d for d in list_workloads()}
    assert names["vgg8"]["input_shape"] == [3, 32, 32]
    assert names["resnet20"]["dataset"] == "sklearn-digits-32x32x3"
    with pytest.raises(WorkloadError, match="divisor"):
        get_workload("vgg8", divisor=3)
    with pytest.raises(WorkloadError, match="test_limit"):
        get_workload("resnet20", test_limit=0)
