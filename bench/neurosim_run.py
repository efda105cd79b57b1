"""Run DNN+NeuroSim V1.4 (outside this repository) at its defaults and save its raw output.

NeuroSim (CC BY-NC 4.0) is not part of this project. Clone github.com/neurosim/DNN_NeuroSim_V1.4
(commit recorded in :data:`NEUROSIM_COMMIT`) to ``--neurosim DIR``; this script copies its
``Inference_pytorch/NeuroSIM`` folder once per configuration to ``DIR/builds/<tag>``, edits
``Param.cpp`` only where the configuration says so (``memcelltype = 2`` for RRAM 1T1R is the one
edit every run makes; the ``default`` run changes nothing else), builds it with its own
``makefile`` and runs ``main NetWork_VGG8.csv 8 8 <rows> <rows> weight1.csv input1.csv ...``.

NeuroSim's PyTorch wrapper dumps each layer's quantized weights and input bits from the trained
VGG8 checkpoint (``log/VGG8.pth``) on a CIFAR-10 image. Neither the checkpoint (a large file the
public mirror does not hold) nor CIFAR-10 is available offline, so :func:`write_traces` makes
the same files (the wrapper's formats: weights ``(k*k*C_in, C_out)`` with ``%10.5f``; inputs one
row per crossbar row, ``n_bits`` columns per input vector, two's-complement MSB first) from a
seeded forward pass of VGG8 with He-uniform weights quantized to 8 bits in (-1, 1), ReLU, 2x2
max-pooling, activations scaled to [0, 1) and quantized to 8 bits, as the wrapper does. Cost
figures depend on the traces only through cell conductances and input-bit activity.

Usage: ``python bench/neurosim_run.py --neurosim /work/neurosim --tags default cell2 ...``
(slow: NeuroSim takes minutes per configuration). Outputs land in
``bench/results/neurosim_raw/<tag>.txt``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

NEUROSIM_COMMIT = "ac828e6"
RAW = Path(__file__).parent / "results" / "neurosim_raw"
NETWORK_CSV = "NetWork_VGG8.csv"

# tag -> Param.cpp assignments changed from NeuroSim's defaults (besides memcelltype = 2)
CONFIGS: dict[str, dict[str, str]] = {
    "default": {},
    "cell2": {"cellBit": "2"},
    "sar": {"SARADC": "true"},
    "mux16": {"numColMuxed": "16"},
    "n45": {"technode": "45"},
    "sub256": {"numRowSubArray": "256", "numColSubArray": "256"},
}
RRAM = {"memcelltype": "2"}
SEED = 0
BITS = 8


def vgg8_rows(neurosim: Path) -> list[tuple[int, ...]]:
    """NeuroSim's VGG8 network CSV rows (IFM h, w, c, kh, kw, cout, pool, stride)."""
    text = (neurosim / "Inference_pytorch" / "NeuroSIM" / NETWORK_CSV).read_text()
    return [tuple(int(v) for v in line.split(",")) for line in text.split()]


def _quantize(x: np.ndarray, bits: int) -> np.ndarray:
    """WAGE ``Q``: round to steps of 2^-(bits-1), clip to (-1, 1)."""
    step = 2.0 ** -(bits - 1)
    return np.clip(np.round(x / step) * step, -1 + step, 1 - step)


def _bits(values: np.ndarray, n_bits: int) -> np.ndarray:
    """Two's-complement bits, MSB first: ``(..., n_bits)`` of 0/1 for values in [-1, 1)."""
    ints = np.round(values * 2 ** (n_bits - 1)).astype(np.int64) % (2**n_bits)
    shifts = np.arange(n_bits - 1, -1, -1)
    return (ints[..., None] >> shifts) & 1


def _patches(act: np.ndarray, k: int) -> np.ndarray:
    """``(C, H, W)`` -> ``(H*W, C*k*k)`` with padding (k-1)/2, stride 1."""
    c, h, w = act.shape
    p = (k - 1) // 2
    padded = np.pad(act, ((0, 0), (p, p), (p, p)))
    win = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))
    return win.transpose(1, 2, 0, 3, 4).reshape(h * w, c * k * k)


def _trace_layers(rows: list[tuple[int, ...]], seed: int = SEED):
    """Yield ``(n, weight (fan_in, C_out), quantized input vectors (H*W, fan_in))`` per layer
    of the seeded VGG8 forward pass (see the module docstring)."""
    rng = np.random.default_rng(seed)
    h, w, c = rows[0][:3]
    act = rng.uniform(-1.0, 1.0, size=(c, h, w))  # normalized image, signed like CIFAR inputs
    for n, (h, w, cin, kh, _kw, cout, pool, _stride) in enumerate(rows, start=1):
        fan_in = cin * kh * kh
        weight = _quantize(rng.uniform(-1, 1, (fan_in, cout)) * np.sqrt(6.0 / fan_in), BITS)
        if kh > 1 or h > 1:
            x = _patches(act.reshape(cin, h, w), kh)
        else:
            x = act.reshape(1, fan_in)
        x = _quantize(x, BITS)
        yield n, weight, x
        y = np.maximum(x @ weight, 0.0)
        if kh > 1 or h > 1:
            y = y.T.reshape(cout, h, w)
            if pool:
                y = y.reshape(cout, h // 2, 2, w // 2, 2).max(axis=(2, 4))
        act = y / (y.max() + 1e-12) * (1 - 2.0 ** -(BITS - 1))


def write_traces(rows: list[tuple[int, ...]], out: Path, seed: int = SEED) -> list[str]:
    """Write ``weight<n>.csv``/``input<n>.csv`` per layer; return NeuroSim's file arguments."""
    files: list[str] = []
    for n, weight, x in _trace_layers(rows, seed):
        wf, xf = out / f"weight{n}.csv", out / f"input{n}.csv"
        np.savetxt(wf, weight, delimiter=",", fmt="%10.5f")
        bits = _bits(x, BITS)  # (vectors, fan_in, bits) -> (fan_in, vectors*bits)
        np.savetxt(xf, bits.transpose(1, 0, 2).reshape(x.shape[1], -1),
                   delimiter=",", fmt="%d")
        files += [str(wf), str(xf)]
    return files


def input_activity(rows: list[tuple[int, ...]], seed: int = SEED) -> list[float]:
    """Fraction of input bits that are 1 per layer, over the input vectors NeuroSim reads
    (the first ``(H - k + 1)·(W - k + 1)`` of each layer's file): the activity its
    ``GetInputVector`` measures, for :func:`simulator.cost.estimate`'s ``input_activity``."""
    out = []
    for (h, w, _c, kh, kw, *_rest), (_n, _weight, x) in zip(rows, _trace_layers(rows, seed),
                                                              strict=True):
        vectors = (h - kh + 1) * (w - kw + 1)
        out.append(float(_bits(x[:vectors], BITS).mean()))
    return out


def edit_params(source: str, edits: dict[str, str]) -> str:
    """Replace the first ``name = value;`` assignment of each edited parameter."""
    for name, value in edits.items():
        source, count = re.subn(
            rf"(\n\s*{name}\s*=\s*)[^;]+;", rf"\g<1>{value};", source, count=1
        )
        if count != 1:
            raise ValueError(f"Param.cpp has no assignment of {name}")
    return source


def build(neurosim: Path, tag: str) -> Path:
    """Copy NeuroSIM/ to builds/<tag>, apply the edits, ``make``; return the build folder."""
    base = neurosim / "builds" / "_base"  # unedited build: later builds only recompile Param.o
    if not (base / "main").exists():
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(neurosim / "Inference_pytorch" / "NeuroSIM", base)
        subprocess.run(["make", "-s"], cwd=base, check=True)
    src, dst = base, neurosim / "builds" / tag
    if not (dst / "main").exists():
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
        param = dst / "Param.cpp"
        param.write_text(edit_params(param.read_text(), {**RRAM, **CONFIGS[tag]}))
        param.touch()
        subprocess.run(["make", "-s"], cwd=dst, check=True)
    return dst


def command(tag: str, files: list[str]) -> list[str]:
    rows = CONFIGS[tag].get("numRowSubArray", "128")
    return ["./main", NETWORK_CSV, str(BITS), str(BITS), rows, rows, *files]


def run(neurosim: Path, tag: str, files: list[str]) -> Path:
    dst = build(neurosim, tag)
    cmd = command(tag, files)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=dst, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    RAW.mkdir(parents=True, exist_ok=True)
    out = RAW / f"{tag}.txt"
    header = (
        f"# DNN_NeuroSim_V1.4 commit {NEUROSIM_COMMIT}; Param.cpp edits "
        f"{ {**RRAM, **CONFIGS[tag]} }; wall {wall:.1f} s\n"
        f"# cwd builds/{tag}; command: {' '.join(cmd[:6])} <weight/input csv per layer>\n"
    )
    out.write_text(header + proc.stdout)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--neurosim", type=Path, required=True, help="NeuroSim clone")
    parser.add_argument("--tags", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()
    traces = args.neurosim / "traces_vgg8"
    traces.mkdir(exist_ok=True)
    files = write_traces(vgg8_rows(args.neurosim), traces)
    for tag in args.tags:
        print(f"{tag}: {run(args.neurosim, tag, files)}", flush=True)


if __name__ == "__main__":
    main()
