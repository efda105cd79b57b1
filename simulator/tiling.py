r"""Column and tile arithmetic of a weight matrix on crossbar arrays, in one place.

The config check (:mod:`simulator.config`), the mapping (:mod:`simulator.mapping`) and the
cost model (:mod:`simulator.cost.model`, which accepts any config-like object) all need the
same numbers, so they all call :func:`column_plan`:

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

__all__ = ["ColumnPlan", "column_plan", "magnitude_bits"]


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
