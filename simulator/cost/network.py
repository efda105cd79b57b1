r"""Networks in NeuroSim's ``NetWork.csv`` format and their crossbar layers.

One line per layer: ``IFM height, IFM width, IFM channels, kernel height, kernel width,
output channels, max-pool after (0/1), stride``. Like NeuroSim (``Chip.cpp``), a layer
computes ``((H - kh + 1) / stride) · ((W - kw + 1) / stride)`` input vectors (no padding) and
``2·H·W·C·kh·kw·C_out`` operations; a 1x1 kernel on a 1x1 map is a fully connected layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.cost.model import LayerShape

__all__ = ["NEUROSIM_VGG8_CSV", "NetworkRow", "layer_shapes", "operations", "parse_network_csv"]

NEUROSIM_VGG8_CSV = """32,32,3,3,3,128,0,1
32,32,128,3,3,128,1,1
16,16,128,3,3,256,0,1
16,16,256,3,3,256,1,1
8,8,256,3,3,512,0,1
8,8,512,3,3,512,1,1
1,1,8192,1,1,1024,0,1
1,1,1024,1,1,10,0,1
"""
"""NeuroSim V1.4's ``Inference_pytorch/NeuroSIM/NetWork_VGG8.csv`` (IFM h, w, c, kh, kw, cout,
pool, stride), the network of its standard VGG8 run."""

_FIELDS = ("ifm_h", "ifm_w", "ifm_c", "kernel_h", "kernel_w", "out_c", "pool", "stride")


@dataclass(frozen=True)
class NetworkRow:
    """One line of a NeuroSim network CSV."""

    ifm_h: int
    ifm_w: int
    ifm_c: int
    kernel_h: int
    kernel_w: int
    out_c: int
    pool: int
    """1 when a 2x2 max-pool follows the layer, else 0."""
    stride: int

    @property
    def vectors(self) -> int:
        """Input vectors per image (NeuroSim ``numInVector``)."""
        rows = (self.ifm_h - self.kernel_h + 1) // self.stride
        cols = (self.ifm_w - self.kernel_w + 1) // self.stride
        return rows * cols

    @property
    def is_linear(self) -> bool:
        return self.ifm_h == self.ifm_w == self.kernel_h == self.kernel_w == 1


def parse_network_csv(text: str, source: str = "network") -> list[NetworkRow]:
    """Parse a NeuroSim network CSV (blank lines are skipped).

    Raises:
        ValueError: naming ``source`` and the 1-based line, on a line without exactly 8
            integer fields, a non-positive size, a kernel larger than its map, a ``pool``
            other than 0/1, or a file without layers.
    """
    rows: list[NetworkRow] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != len(_FIELDS):
            raise ValueError(
                f"{where}: expected {len(_FIELDS)} comma-separated integers "
                f"({', '.join(_FIELDS)}), got {len(parts)} fields: {line.strip()!r}."
            )
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"{where}: fields must be integers, got {line.strip()!r}.") from None
        row = NetworkRow(*values)
        for name, value in zip(_FIELDS, values, strict=True):
            if name != "pool" and value < 1:
                raise ValueError(f"{where}: {name} must be >= 1, got {value}.")
        if row.pool not in (0, 1):
            raise ValueError(f"{where}: pool must be 0 or 1, got {row.pool}.")
        if row.kernel_h > row.ifm_h or row.kernel_w > row.ifm_w:
            raise ValueError(f"{where}: the kernel is larger than the input feature map.")
        rows.append(row)
    if not rows:
        raise ValueError(f"{source}: no layers (empty file).")
    return rows


def layer_shapes(rows: list[NetworkRow]) -> list[LayerShape]:
    """The crossbar layers of a NeuroSim network, named ``layer1``, ``layer2``, ..."""
    shapes = []
    for n, row in enumerate(rows, start=1):
        kind = "linear" if row.is_linear else "conv"
        shapes.append(
            LayerShape(
                f"layer{n}",
                kind,
                row.ifm_c * row.kernel_h * row.kernel_w,
                row.out_c,
                row.vectors,
                ifm_size=row.ifm_h,
                kernel_area=row.kernel_h * row.kernel_w,
            )
        )
    return shapes


def operations(rows: list[NetworkRow]) -> float:
    """Operations per image as NeuroSim counts them (``numComputation``): a multiply and an
    add per weight per output position of the full map, ``2·H·W·C·kh·kw·C_out``."""
    return float(
        sum(
            2 * math.prod((r.ifm_h, r.ifm_w, r.ifm_c, r.kernel_h, r.kernel_w, r.out_c))
            for r in rows
        )
    )
