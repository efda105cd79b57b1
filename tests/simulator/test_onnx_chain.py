"""A chain-shaped ONNX graph converts to an ``nn.Sequential`` that the analytic moment tier
walks, with the same noiseless logits as the graph; a graph with a residual add stays an
``OnnxModel``, which the moment tier refuses instead of skipping its functional nodes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from simulator.estimators.moments import propagate_moments
from simulator.workloads.files import load_model
from simulator.workloads.files.onnx_model import OnnxModel
from tests.simulator.test_workload_files import Residual, _onnx, _seq


def test_chain_graph_is_sequential_and_the_moment_tier_matches_it() -> None:
    torch.manual_seed(0)
    model = _seq().eval()
    net = load_model(_onnx(model))
    assert isinstance(net, nn.Sequential)
    assert [type(m).__name__ for m in net] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten",
                                               "Linear"]
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(net(x), model(x))
    trace = propagate_moments(net, x, None)  # noiseless: the mean is the forward pass
    assert torch.allclose(trace.logit_mean, model(x), atol=1e-5)
    assert float(trace.logit_cov.abs().max()) == 0.0


def test_non_chain_graph_is_refused_by_the_moment_tier() -> None:
    torch.manual_seed(0)
    net = load_model(_onnx(Residual().eval()))
    assert isinstance(net, OnnxModel) and net.sequential is False
    with pytest.raises(ValueError, match="needs a chain of layers; OnnxModel"):
        propagate_moments(net, torch.rand(2, 1, 8, 8), None)
