r"""ONNX model bytes -> a torch ``nn.Module`` whose weights sit in ``nn.Linear``/``nn.Conv2d``.

The maintained converters (``onnx2torch``, ``onnx2pytorch``) import torchvision, which does not
load beside our CPU torch (``docs/decisions.md``), so the standard CNN operators are converted
here with the ``onnx`` package itself (protobuf parsing only: nothing is unpickled):

``Conv`` (2-D, symmetric explicit pads) -> ``nn.Conv2d``; ``Gemm`` (``alpha = beta = 1``,
``transA = 0``) and ``MatMul`` by a 2-D initializer -> ``nn.Linear``; ``BatchNormalization`` ->
``nn.BatchNorm2d`` (digital; on `N x C x H x W` tensors); ``Relu``, ``MaxPool``, ``AveragePool``,
``GlobalAveragePool``, ``Flatten``, ``Reshape``, ``Add``, ``Mul``, ``Sub``, ``Softmax``,
``Identity``, ``Dropout`` (inference), ``Constant`` run as torch functions. Any other operator
or attribute value is refused with a :class:`WorkloadError` naming the node and its op type.

A graph that is one chain of layers (each node takes the previous node's output, and only
weight layers, ``Relu``, ``Flatten`` (axis 1), pooling, ``Identity``, ``Dropout``) becomes an
``nn.Sequential`` of the matching modules instead, so its leaf modules are its execution order
and the analytic moment tier (:func:`simulator.estimators.moments.propagate_moments`) can walk
it; any other graph is an :class:`OnnxModel`, which that tier refuses (its functional nodes
are invisible to a walk over leaf modules).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simulator.errors import WorkloadError

__all__ = ["SUPPORTED_OPS", "OnnxModel", "onnx_to_torch"]

_Step = tuple[str, str, list[str], list[str], dict[str, Any]]
"""``(op, layer key or "", activation inputs, outputs, attributes)`` of one graph node."""

SUPPORTED_OPS = ("Add", "AveragePool", "BatchNormalization", "Constant", "Conv", "Dropout",
                 "Flatten", "Gemm", "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "Mul",
                 "Relu", "Reshape", "Softmax", "Sub")
"""ONNX operators :func:`onnx_to_torch` converts (module docstring)."""


def _node_name(node: Any, index: int) -> str:
    return node.name or f"node{index}"


def _symmetric_pads(pads: list[int], where: str) -> tuple[int, int]:
    if not pads:
        return (0, 0)
    if len(pads) != 4 or pads[0] != pads[2] or pads[1] != pads[3]:
        raise WorkloadError(f"{where}: only symmetric 2-D pads are supported, got {pads}.")
    return (pads[0], pads[1])


class OnnxModel(nn.Module):
    """Runs a converted ONNX graph node by node; weight layers are submodules in ``layers``.

    ``layers`` is a ``ModuleDict`` keyed by sanitized node names (``nn.Conv2d``, ``nn.Linear``,
    batch norms), so :func:`simulator.mapping.crossbar_layers` finds every weight.
    """

    sequential = False
    """Not a chain of leaf modules: walks over ``named_modules`` miss its functional nodes."""

    def __init__(self, steps: list[tuple[str, str, list[str], list[str], dict[str, Any]]],
                 layers: dict[str, nn.Module], constants: dict[str, Tensor],
                 input_name: str, output_name: str) -> None:
        super().__init__()
        self.steps = steps
        self.layers = nn.ModuleDict(layers)
        self.const_names = list(constants)
        for i, value in enumerate(constants.values()):
            self.register_buffer(f"const{i}", value)
        self.input_name = input_name
        self.output_name = output_name

    def forward(self, x: Tensor) -> Tensor:
        r"""`N x input_shape` -> the graph's output (`N x classes` logits)."""
        env: dict[str, Tensor] = {name: getattr(self, f"const{i}")
                                  for i, name in enumerate(self.const_names)}
        env[self.input_name] = x
        for op, key, ins, outs, attrs in self.steps:
            args = [env[i] for i in ins if i]
            if key:
                y = self.layers[key](args[0])
            else:
                y = _apply(op, args, attrs, x.dtype)
            env[outs[0]] = y
        return env[self.output_name]


def _apply(op: str, args: list[Tensor], attrs: dict[str, Any], dtype: torch.dtype) -> Tensor:
    """One parameter-free operator on tensors (its attributes were checked at conversion)."""
    if op == "Relu":
        return F.relu(args[0])
    if op in ("Identity", "Dropout"):
        return args[0]
    if op == "Add":
        return args[0] + args[1]
    if op == "Sub":
        return args[0] - args[1]
    if op == "Mul":
        return args[0] * args[1]
    if op == "Constant":
        return attrs["value"]
    if op == "Flatten":
        return torch.flatten(args[0], start_dim=attrs.get("axis", 1))
    if op == "Reshape":
        shape = [int(s) for s in args[1].tolist()]
        shape = [args[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return args[0].reshape(shape)
    if op == "Softmax":
        return torch.softmax(args[0], dim=attrs.get("axis", -1))
    if op == "GlobalAveragePool":
        return args[0].mean(dim=(-2, -1), keepdim=True)
    if op == "MaxPool":
        return F.max_pool2d(args[0], attrs["kernel"], attrs["stride"], attrs["pad"],
                            ceil_mode=attrs["ceil"])
    if op == "AveragePool":
        return F.avg_pool2d(args[0], attrs["kernel"], attrs["stride"], attrs["pad"],
                            ceil_mode=attrs["ceil"], count_include_pad=attrs["count_pad"])
    raise AssertionError(op)  # unreachable: _convert refuses unknown operators


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pool_attrs(attrs: dict[str, Any], where: str) -> dict[str, Any]:
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise WorkloadError(f"{where}: auto_pad is not supported (export explicit pads).")
    if any(d != 1 for d in attrs.get("dilations", [])):
        raise WorkloadError(f"{where}: dilated pooling is not supported.")
    kernel = tuple(attrs["kernel_shape"])
    if len(kernel) != 2:
        raise WorkloadError(f"{where}: only 2-D pooling is supported, got kernel {kernel}.")
    return {"kernel": kernel, "stride": tuple(attrs.get("strides", kernel)),
            "pad": _symmetric_pads(list(attrs.get("pads", [])), where),
            "ceil": bool(attrs.get("ceil_mode", 0)),
            "count_pad": bool(attrs.get("count_include_pad", 0))}


def _weight_layer(op: str, where: str, attrs: dict[str, Any],
                  inits: dict[str, Tensor], ins: list[str]) -> nn.Module:
    """``nn.Conv2d``/``nn.Linear``/batch norm holding the node's initializers."""
    def init(i: int) -> Tensor:
        if i >= len(ins) or ins[i] not in inits:
            raise WorkloadError(f"{where}: input {i} must be a constant initializer (weight).")
        return inits[ins[i]]

    if op == "Conv":
        w = init(1)
        if w.dim() != 4:
            raise WorkloadError(
                f"{where}: only 2-D convolutions are supported (weight {tuple(w.shape)}).")
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise WorkloadError(f"{where}: auto_pad is not supported (export explicit pads).")
        group = int(attrs.get("group", 1))
        conv = nn.Conv2d(w.shape[1] * group, w.shape[0], tuple(w.shape[2:]),
                         stride=tuple(attrs.get("strides", [1, 1])),
                         padding=_symmetric_pads(list(attrs.get("pads", [])), where),
                         dilation=tuple(attrs.get("dilations", [1, 1])), groups=group,
                         bias=len(ins) > 2 and bool(ins[2]))
        conv.weight.data.copy_(w)
        if conv.bias is not None:
            conv.bias.data.copy_(init(2))
        return conv
    if op in ("Gemm", "MatMul"):
        w = init(1)
        if w.dim() != 2:
            raise WorkloadError(f"{where}: the weight must be 2-D, got {tuple(w.shape)}.")
        if op == "Gemm":
            if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get(
                    "transA", 0):
                raise WorkloadError(f"{where}: Gemm needs alpha = beta = 1 and transA = 0.")
            if not attrs.get("transB", 0):
                w = w.T
        else:
            w = w.T
        has_bias = op == "Gemm" and len(ins) > 2 and bool(ins[2])
        linear = nn.Linear(w.shape[1], w.shape[0], bias=has_bias)
        linear.weight.data.copy_(w)
        if has_bias:
            b = init(2)
            if b.numel() != w.shape[0]:
                raise WorkloadError(f"{where}: bias of shape {tuple(b.shape)} is not per output.")
            linear.bias.data.copy_(b.reshape(-1))
        return linear
    # BatchNormalization
    scale, bias, mean, var = (init(i) for i in (1, 2, 3, 4))
    bn = nn.BatchNorm2d(scale.numel(), eps=float(attrs.get("epsilon", 1e-5)))
    bn.weight.data.copy_(scale)
    bn.bias.data.copy_(bias)
    bn.running_mean.copy_(mean)
    bn.running_var.copy_(var)
    return bn


def _chain_module(op: str, attrs: dict[str, Any]) -> nn.Module | None:
    """The parameter-free module of a chain node, or ``None`` when ``op`` breaks the chain."""
    if op == "Relu":
        return nn.ReLU()
    if op in ("Identity", "Dropout"):
        return nn.Identity()
    if op == "Flatten" and attrs.get("axis", 1) == 1:
        return nn.Flatten(1)
    if op == "MaxPool":
        return nn.MaxPool2d(attrs["kernel"], attrs["stride"], attrs["pad"],
                            ceil_mode=attrs["ceil"])
    if op == "AveragePool":
        return nn.AvgPool2d(attrs["kernel"], attrs["stride"], attrs["pad"],
                            ceil_mode=attrs["ceil"], count_include_pad=attrs["count_pad"])
    return None


def _as_sequential(steps: list[_Step], layers: dict[str, nn.Module], inits: dict[str, Tensor],
                   input_name: str, output_name: str) -> nn.Sequential | None:
    """The graph as an ``nn.Sequential`` when it is one chain (module docstring), else
    ``None``. Nodes that only produce constants (``Constant``, ``Identity`` of a weight) are
    left out: their values already sit in the weight layers."""
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    prev = input_name
    for i, (op, key, ins, outs, attrs) in enumerate(steps):
        if outs[0] in inits:
            continue
        module = layers[key] if key else _chain_module(op, attrs)
        if module is None or [x for x in ins if x] != [prev]:
            return None
        modules[key or f"s{i}_{op.lower()}"] = module
        prev = outs[0]
    if prev != output_name or not modules:
        return None
    return nn.Sequential(modules)


def onnx_to_torch(data: bytes) -> nn.Module:
    """Parse ONNX ``data`` and convert it (module docstring): an ``nn.Sequential`` for a chain
    of layers, else an :class:`OnnxModel`.

    Raises:
        WorkloadError: Unparseable bytes, several inputs/outputs, or an unsupported node
            (named, with its op type).
    """
    import onnx
    from onnx import numpy_helper

    try:
        proto = onnx.load_model_from_string(data)
    except Exception as e:  # protobuf raises DecodeError and others
        raise WorkloadError(f"the model is not a valid ONNX file: {e}") from None
    graph = proto.graph
    if not graph.node:
        raise WorkloadError("the ONNX model has no nodes.")
    inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in inits]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise WorkloadError(f"the ONNX model must have one input and one output, got inputs "
                            f"{inputs} and {len(graph.output)} outputs.")
    steps: list[_Step] = []
    layers: dict[str, nn.Module] = {}
    used: set[str] = set()
    for index, node in enumerate(graph.node):
        name, op = _node_name(node, index), node.op_type
        where = f"ONNX node {name!r} ({op})"
        if node.domain not in ("", "ai.onnx") or op not in SUPPORTED_OPS:
            raise WorkloadError(f"{where}: operator {op!r} is not supported; supported: "
                                f"{', '.join(SUPPORTED_OPS)}.")
        attrs = _attrs(node)
        ins, outs = list(node.input), list(node.output)
        key = ""
        if op in ("Conv", "Gemm", "BatchNormalization") or (
                op == "MatMul" and len(ins) > 1 and ins[1] in inits):
            key = f"n{index}_" + "".join(c if c.isalnum() else "_" for c in name)[:40]
            layers[key] = _weight_layer(op, where, attrs, inits, ins)
            ins = ins[:1]
        elif op == "MatMul":
            raise WorkloadError(f"{where}: MatMul of two activations cannot be mapped.")
        elif op in ("MaxPool", "AveragePool"):
            attrs = _pool_attrs(attrs, where)
        elif op == "Constant":
            if "value" not in attrs:
                raise WorkloadError(f"{where}: only Constant with a tensor 'value' is supported.")
            attrs = {"value": torch.from_numpy(numpy_helper.to_array(attrs["value"]).copy())}
            inits[outs[0]] = attrs["value"]  # weight layers may take constants as initializers
        elif op == "Identity" and ins[0] in inits:  # exporters alias equal weights this way
            inits[outs[0]] = inits[ins[0]]
        elif op == "Reshape" and attrs.get("allowzero", 0):
            raise WorkloadError(f"{where}: Reshape with allowzero=1 is not supported.")
        elif op == "Dropout" and len(outs) > 1 and outs[1]:
            raise WorkloadError(f"{where}: Dropout's mask output is not supported.")
        used.update(i for i in ins if i in inits)
        steps.append((op, key, ins, outs[:1], attrs))
    chain = _as_sequential(steps, layers, inits, inputs[0], graph.output[0].name)
    if chain is not None:
        return chain.eval()
    constants = {n: t for n, t in inits.items() if n in used}
    model = OnnxModel(steps, layers, constants, inputs[0], graph.output[0].name)
    return model.eval()
