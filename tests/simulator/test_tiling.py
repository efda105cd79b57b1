"""Tests of ``simulator.tiling``: the column and tile arithmetic shared by the config check,
the mapping and the cost model."""

from __future__ import annotations

import pytest

from simulator.config import CrossbarConfig
from simulator.cost import LayerShape
from simulator.cost.model import map_layer
from simulator.errors import MappingError
from simulator.tiling import column_plan, layout_for, magnitude_bits


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
    """The cost model's mapping of one layer is the mapping's TileLayout: same slices,
    columns per weight, reference columns, tiles and used columns."""
    cfg = CrossbarConfig(rows=64, cols=128, weight_bits=6, cell_bits=2, encoding=encoding)
    layout = layout_for("fc", "linear", 300, 50, cfg)
    assert map_layer(cfg, LayerShape("fc", "linear", 300, 50)) == layout
    assert layout.row_tiles == 5
    # 5 magnitude bits (differential) -> 3 slices x 2 columns; 6 bits (offset) -> 3 slices
    expected = {"differential": (3, 6, 0, 3, 300), "offset": (3, 3, 1, 2, 152)}[encoding]
    assert (layout.slices, layout.cols_per_weight, layout.ref_cols, layout.col_tiles,
            layout.used_cols) == expected


class _Cols8:
    """A config-like object (no CrossbarConfig check) whose arrays are too narrow."""

    rows, cols, weight_bits, cell_bits, encoding = 16, 8, 8, 1, "differential"


def test_a_layer_that_does_not_fit_raises_mapping_error_naming_it() -> None:
    """Mapping and cost model raise the same MappingError (a ValueError), naming the layer,
    the columns and the encoding."""
    for call in (lambda: layout_for("fc", "linear", 4, 4, _Cols8()),
                 lambda: map_layer(_Cols8(), LayerShape("fc", "linear", 4, 4))):
        with pytest.raises(MappingError, match=r"layer 'fc': cols=8 .*14 columns with "
                                               r"'differential' encoding"):
            call()
    assert issubclass(MappingError, ValueError)
