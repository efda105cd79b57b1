"""Tests of ``simulator.tiling``: the column and tile arithmetic shared by the config check,
the mapping and the cost model."""

from __future__ import annotations

import pytest

from simulator.config import CrossbarConfig
from simulator.cost import LayerShape
from simulator.cost.model import map_layer
from simulator.mapping import layout_for
from simulator.tiling import column_plan, magnitude_bits


def test_differential_and_offset_plans() -> None:
    """8-bit weights in 2-bit cells: differential 7 magnitude bits -> 4 slices, 8 columns per
    weight, no reference column; offset 8 bits -> 4 slices, 4 columns, 1 reference column."""
    assert magnitude_bits(8, "differential") == 7 and magnitude_bits(8, "offset") == 8
    d = column_plan(cols=128, weight_bits=8, cell_bits=2, encoding="differential")
    assert (d.slices, d.cols_per_weight, d.ref_cols, d.usable_cols) == (4, 8, 0, 128)
    assert d.tiles(128, 300, 20) == (3, 2)  # ceil(300/128), ceil(20*8/128)
    o = column_plan(cols=128, weight_bits=8, cell_bits=2, encoding="offset")
    assert (o.slices, o.cols_per_weight, o.ref_cols, o.usable_cols) == (4, 4, 1, 127)
    assert o.tiles(64, 64, 40) == (1, 2)  # ceil(160/127)
    assert d.fits and o.fits


def test_a_weight_wider_than_the_array_does_not_fit() -> None:
    """14 columns per weight (8-bit differential, 1-bit cells) do not fit in 8 columns."""
    plan = column_plan(cols=8, weight_bits=8, cell_bits=1, encoding="differential")
    assert plan.cols_per_weight == 14 and not plan.fits


@pytest.mark.parametrize("encoding", ["differential", "offset"])
def test_mapping_and_cost_model_tile_a_layer_alike(encoding: str) -> None:
    """The mapping's TileLayout and the cost model's mapping of one layer agree on slices,
    columns per weight, reference columns and tiles."""
    cfg = CrossbarConfig(rows=64, cols=128, weight_bits=6, cell_bits=2, encoding=encoding)
    layout = layout_for("fc", "linear", 300, 50, cfg)
    m = map_layer(cfg, LayerShape("fc", "linear", 300, 50))
    assert (layout.slices, layout.cols_per_weight, layout.ref_cols, layout.row_tiles,
            layout.col_tiles) == (m.slices, m.cols_per_weight, m.ref_cols, m.row_tiles,
                                  m.col_tiles)
    assert layout.row_tiles == 5
