r"""Column and tile arithmetic of a weight matrix on crossbar arrays, in one place.

The config check (:mod:`simulator.config`), the mapping (:mod:`simulator.mapping`) and the
cost model (:mod:`simulator.cost.model`, which accepts any config-like object) all need the
same numbers, so they all call :func:`column_plan`; the mapping and the cost model share
:func:`layout_for` (a layer's :class:`TileLayout`) as well:

- magnitude bits per weight: ``weight_bits - 1`` with differential encoding (the sign picks
  the column of the pair), ``weight_bits`` with offset encoding;
- slices (cells per magnitude, per column of a pair): ``ceil(magnitude_bits / cell_bits)``;
- physical columns per weight: ``2 slices`` (differential) or ``slices`` (offset);
- reference columns per array: 0 (differential) or 1 (offset);
- tiles of an ``in_features x out_features`` layer:
  ``ceil(in_features / rows) x ceil(out_features cols_per_weight / (cols - ref_cols))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from simulator.errors import MappingError

__all__ = ["ColumnPlan", "TileLayout", "TilingConfig", "column_plan", "layout_for",
           "magnitude_bits"]


class TilingConfig(Protocol):
    """The configuration fields the tile arithmetic reads (``CrossbarConfig`` has them)."""

    rows: int
    cols: int
    weight_bits: int
    cell_bits: int
    encoding: str


def magnitude_bits(weight_bits: int, encoding: str) -> int:
    """Bits stored per weight across its cells (see the module docstring)."""
    return weight_bits - 1 if encoding == "differential" else weight_bits


@dataclass(frozen=True)
class ColumnPlan:
    """How one weight occupies the columns of an array."""

    slices: int
    """Cells per weight magnitude (per column of a differential pair)."""
    cols_per_weight: int
    """Physical columns per weight."""
    ref_cols: int
    """Reference columns per array."""
    usable_cols: int
    """Columns per array left for weights: ``cols - ref_cols``."""

    @property
    def fits(self) -> bool:
        """Whether one weight fits in an array's usable columns."""
        return self.cols_per_weight <= self.usable_cols

    def tiles(self, rows: int, in_features: int, out_features: int) -> tuple[int, int]:
        """``(row_tiles, col_tiles)``: arrays along the input and the output dimension."""
        return (math.ceil(in_features / rows),
                math.ceil(out_features * self.cols_per_weight / self.usable_cols))


def column_plan(*, cols: int, weight_bits: int, cell_bits: int, encoding: str) -> ColumnPlan:
    """The :class:`ColumnPlan` of a weight on arrays of ``cols`` columns (check ``fits``)."""
    differential = encoding == "differential"
    slices = math.ceil(magnitude_bits(weight_bits, encoding) / cell_bits)
    ref_cols = 0 if differential else 1
    return ColumnPlan(slices=slices, cols_per_weight=slices * (2 if differential else 1),
                      ref_cols=ref_cols, usable_cols=cols - ref_cols)


@dataclass(frozen=True, kw_only=True)
class TileLayout:
    """Geometry of one layer on the arrays."""

    name: str
    """Layer name (module path in the model)."""
    kind: str
    """``"linear"`` or ``"conv"``."""
    in_features: int
    """Unrolled input rows (``C_in·kh·kw`` for a convolution)."""
    out_features: int
    """Outputs (neurons or channels)."""
    rows: int
    """Rows per array."""
    cols: int
    """Columns per array."""
    slices: int
    """Cells per weight magnitude (per column of a differential pair)."""
    cols_per_weight: int
    """Physical columns per weight: ``2·slices`` (differential) or ``slices`` (offset)."""
    ref_cols: int
    """Reference columns per array: 0 (differential) or 1 (offset, column 0)."""
    row_tiles: int
    """Arrays along the input dimension."""
    col_tiles: int
    """Arrays along the output dimension."""

    @property
    def arrays(self) -> int:
        """Arrays used by the layer."""
        return self.row_tiles * self.col_tiles

    @property
    def weight_cols(self) -> int:
        """Physical weight columns of the layer (without reference columns)."""
        return self.out_features * self.cols_per_weight

    @property
    def used_cols(self) -> int:
        """Physical columns read out, reference columns included (per row tile)."""
        return self.weight_cols + self.col_tiles * self.ref_cols

    @property
    def utilization(self) -> float:
        """Fraction of the layer's cells that hold weights or references."""
        return self.in_features * self.used_cols / (self.arrays * self.rows * self.cols)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "in_features": self.in_features,
            "out_features": self.out_features,
            "row_tiles": self.row_tiles,
            "col_tiles": self.col_tiles,
            "arrays": self.arrays,
            "cells_per_weight": self.cols_per_weight,
            "utilization": self.utilization,
        }


def layout_for(
    name: str, kind: str, in_features: int, out_features: int, config: TilingConfig
) -> TileLayout:
    """The :class:`TileLayout` of an ``in_features x out_features`` layer on ``config``.

    Raises:
        MappingError: If one weight does not fit in an array's usable columns.
    """
    plan = column_plan(cols=config.cols, weight_bits=config.weight_bits,
                       cell_bits=config.cell_bits, encoding=config.encoding)
    if not plan.fits:
        raise MappingError(
            f"layer {name!r}: cols={config.cols} cannot hold one weight ({plan.cols_per_weight} "
            f"columns with {config.encoding!r} encoding)."
        )
    row_tiles, col_tiles = plan.tiles(config.rows, in_features, out_features)
    return TileLayout(
        name=name,
        kind=kind,
        in_features=in_features,
        out_features=out_features,
        rows=config.rows,
        cols=config.cols,
        slices=plan.slices,
        cols_per_weight=plan.cols_per_weight,
        ref_cols=plan.ref_cols,
        row_tiles=row_tiles,
        col_tiles=col_tiles,
    )
