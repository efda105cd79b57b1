"""Bring your own model and data: ONNX / safetensors round trips, data files, clear errors."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from safetensors.torch import save
from torch import nn
from typer.testing import CliRunner

from app.cli.eval import app
from simulator.errors import WorkloadError
from simulator.mapping import crossbar_layers
from simulator.workloads.architectures import resnet20, vgg8
from simulator.workloads.files import file_workload, load_data, load_model, sniff_model_format


class Residual(nn.Module):
    """conv + batch norm + relu, a residual add, average pool, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn(self.c1(x)))
        y = F.relu(y + self.c2(y))
        return self.fc(torch.flatten(F.avg_pool2d(y, 2), 1))


def _seq() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def _onnx(model: nn.Module, shape: tuple[int, ...] = (1, 1, 8, 8)) -> bytes:
    buf = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(shape),), buf, dynamo=False, input_names=["x"],
                      do_constant_folding=False,
                      dynamic_axes={"x": {0: "n"}})
    return buf.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _gap() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3), nn.Softmax(-1))


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("build", [_seq, Residual, _gap])
def test_onnx_round_trip_identical_logits(build, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = build().eval()
    if isinstance(model, Residual):
        model.bn.running_mean.uniform_()
        model.bn.running_var.uniform_(0.5, 2.0)
    data = _onnx(model)
    assert sniff_model_format(data) == "onnx"
    net = load_model(data)
    assert torch.equal(net(x), model(x))
    kinds = [type(m).__name__ for _, m in crossbar_layers(net)]
    assert kinds.count("Linear") == 1 and kinds.count("Conv2d") == (2 if build is Residual else 1)


@pytest.mark.parametrize("arch", ["vgg8", "resnet20"])
def test_safetensors_round_trip(arch: str) -> None:
    torch.manual_seed(0)
    model = (vgg8(num_classes=4, divisor=16) if arch == "vgg8"
             else resnet20(num_classes=4, divisor=4)).eval()
    data = save(model.state_dict())
    assert sniff_model_format(data) == "safetensors"
    net = load_model(data, architecture=arch)
    xs = torch.rand(2, 3, 32, 32)
    assert torch.equal(net(xs), model(xs))
    with pytest.raises(WorkloadError, match="needs an architecture"):
        load_model(data)
    other = "resnet20" if arch == "vgg8" else "vgg8"
    with pytest.raises(WorkloadError, match=f"not a {other}"):
        load_model(data, architecture=other)


def test_onnx_matmul_add_is_a_linear_layer() -> None:
    w, b = torch.randn(3, 4), torch.randn(4)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
         helper.make_node("Add", ["h", "b"], ["y"], name="bias")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(w.numpy(), "w"), numpy_helper.from_array(b.numpy(), "b")])
    net = load_model(helper.make_model(graph).SerializeToString())
    xs = torch.randn(5, 3)
    assert torch.equal(net(xs), xs @ w + b)
    [(_, layer)] = crossbar_layers(net)
    assert isinstance(layer, nn.Linear) and torch.equal(layer.weight, w.T)


def test_unsupported_onnx_op_names_node_and_type() -> None:
    w = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
         helper.make_node("Tanh", ["h"], ["y"], name="squash")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w])
    data = helper.make_model(graph).SerializeToString()
    with pytest.raises(WorkloadError, match=r"node 'squash' \(Tanh\).*'Tanh' is not supported"):
        load_model(data)


def test_corrupted_and_refused_model_files() -> None:
    with pytest.raises(WorkloadError, match="not a valid ONNX file"):
        load_model(b"\x07garbage that is no protobuf \xff\xff\xff")
    with pytest.raises(WorkloadError, match="empty"):
        load_model(b"")
    with pytest.raises(WorkloadError, match="corrupted zip"):
        load_model(b"PK\x03\x04" + b"\x00" * 40)
    scripted = io.BytesIO()
    torch.jit.save(torch.jit.script(_seq().eval()), scripted)
    assert sniff_model_format(scripted.getvalue()) == "torchscript"
    with pytest.raises(WorkloadError, match="torchscript programs are not accepted"):
        load_model(scripted.getvalue())
    exported = io.BytesIO()
    torch.export.save(torch.export.export(_seq().eval(), (torch.zeros(1, 1, 8, 8),)), exported)
    assert sniff_model_format(exported.getvalue()) == "pt2"
    with pytest.raises(WorkloadError, match="pt2 programs are not accepted"):
        load_model(exported.getvalue())
    with pytest.raises(WorkloadError, match="unknown model format 'keras'"):
        load_model(_onnx(_seq()), model_format="keras")
    with pytest.raises(WorkloadError, match="not a valid safetensors"):
        load_model(_onnx(_seq()), model_format="safetensors", architecture="vgg8")


def test_grouped_conv_refused_naming_layer() -> None:
    model = nn.Sequential(nn.Conv2d(2, 2, 3, groups=2), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    with pytest.raises(WorkloadError, match="grouped convolution"):
        file_workload(_onnx(model.eval(), (1, 2, 8, 8)),
                      _npz(x_test=np.zeros((2, 2, 8, 8), np.float32), y_test=np.zeros(2, int)))


def test_npz_layouts_and_pickle_refused(x: torch.Tensor) -> None:
    nhwc = (np.arange(2 * 4 * 4 * 3) % 256).astype(np.uint8).reshape(2, 4, 4, 3)
    splits = load_data(_npz(x_test=nhwc, y_test=np.array([0, 1]), x_train=nhwc,
                            y_train=np.array([1, 0])))
    assert splits.x_test.shape == (2, 3, 4, 4) and splits.calib_source == "train"
    assert splits.x_test[1, 2, 0, 0] == pytest.approx(nhwc[1, 0, 0, 2] / 255.0)
    pickled = _npz(x_test=np.array([{"a": 1}, None], dtype=object), y_test=np.array([0, 1]))
    with pytest.raises(WorkloadError, match="needs pickle"):
        load_data(pickled)
    with pytest.raises(WorkloadError, match="3 labels for 2 inputs"):
        load_data(_npz(x_test=nhwc, y_test=np.array([0, 1, 2])))
    with pytest.raises(WorkloadError, match="unknown arrays \\['images'\\]"):
        load_data(_npz(x_test=nhwc, y_test=np.array([0, 1]), images=nhwc))
    with pytest.raises(WorkloadError, match="no zip signature"):
        load_data(b"not a zip")


def test_image_folder_zip() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for cls, value in (("cat", 0), ("dog", 255)):
            for i in range(2):
                img = io.BytesIO()
                Image.fromarray(np.full((8, 8), value, np.uint8), mode="L").save(img, "PNG")
                z.writestr(f"test/{cls}/{i}.png", img.getvalue())
    splits = load_data(buf.getvalue())
    assert splits.x_test.shape == (4, 1, 8, 8)
    assert splits.y_test.tolist() == [0, 0, 1, 1]
    assert splits.x_test[2].min() == 1.0 and splits.x_test[0].max() == 0.0


def test_file_workload_validation(x: torch.Tensor) -> None:
    model = _onnx(_seq().eval())
    wl = file_workload(model, _npz(x_test=x.numpy(), y_test=np.arange(6) % 3))
    assert wl.num_classes == 3 and wl.input_shape == (1, 8, 8) and wl.x_train is None
    assert wl is file_workload(model, _npz(x_test=x.numpy(), y_test=np.arange(6) % 3))
    with pytest.raises(WorkloadError, match="do not fit the model"):
        file_workload(model, _npz(x_test=np.zeros((2, 1, 6, 6), np.float32),
                                  y_test=np.zeros(2, int)))
    with pytest.raises(WorkloadError, match="label 5 but the model has 3 classes"):
        file_workload(model, _npz(x_test=x.numpy(), y_test=np.array([0, 1, 2, 0, 1, 5])))


def test_cli_eval_user_onnx_and_npz(tmp_path: Path, x: torch.Tensor) -> None:
    torch.manual_seed(0)
    (tmp_path / "net.onnx").write_bytes(_onnx(Residual().eval()))
    (tmp_path / "data.npz").write_bytes(_npz(x_test=x.numpy(), y_test=np.arange(6) % 3))
    runner = CliRunner()
    args = ["--model", str(tmp_path / "net.onnx"), "--data", str(tmp_path / "data.npz"),
            "--fidelity", "0", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["details"]["workload"] == "net" and out["details"]["n_test"] == 6
    assert 0.0 <= out["accuracy"] <= 1.0 and out["area_mm2"] > 0
    (tmp_path / "bad.onnx").write_bytes(b"\x07junk\xff\xff")
    result = runner.invoke(app, ["--model", str(tmp_path / "bad.onnx"),
                                 "--data", str(tmp_path / "data.npz")])
    assert result.exit_code == 2 and "bad.onnx" in result.output
    assert "not a valid ONNX" in result.output
    result = runner.invoke(app, ["--model", str(tmp_path / "net.onnx")])
    assert result.exit_code == 2 and "--model and --data go together" in result.output
