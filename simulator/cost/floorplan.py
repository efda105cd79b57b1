r"""Weight copies per layer: DNN+NeuroSim V1.4's floorplan (commit ac828e6,
``Inference_pytorch/NeuroSIM/Chip.cpp``), ported rule for rule.

A layer's copies are ``dup · ceil(pipeline / dup)`` with

* ``pipeline`` (``ChipDesignInitialize``, Chip.cpp:151-181): the degree is capped at
  ``IFM_1 / min IFM`` over the first layer and the layers with a kernel wider than 1
  (Chip.cpp:155-170); with ``bound = ceil(IFM_1 / degree)`` a layer gets
  ``ceil((IFM / bound)^2)``, at least 1 (Chip.cpp:173-176).
* ``dup`` = PE duplication x sub-array duplication (``PEDesign`` Chip.cpp:1179-1232,
  ``SubArrayDup`` Chip.cpp:1234-1276): copies of a small weight matrix that fit in the PE /
  sub-arrays a tile holds anyway; NeuroSim's speed-up is their product with the pipeline
  factor (``OverallEachLayer`` Chip.cpp:1337-1338; printed as row x col, main.cpp:204-206).

The sizes come from NeuroSim's novel-mapping floorplan (``novelMapping = true``,
Param.cpp:98): layers whose kernel area ``kh·kw`` is the most common one (``numPENM``,
Chip.cpp:103-120) and whose unrolled rows ``C·kh·kw`` fill a sub-array use the novel mapping
(Chip.cpp:123-135), the others the conventional one. The novel PE side is chosen among powers
of two from ``2^ceil(log2(C_out·cols_per_weight))`` down to ``2·rows`` for the highest
utilization (Chip.cpp:220-234, ``TileDesignNM`` Chip.cpp:1160-1177), the conventional tile
side likewise down to ``4·rows`` (Chip.cpp:237-252, ``TileDesignCM`` Chip.cpp:1140-1158) and
its PE side from half the tile down to ``2·rows`` (Chip.cpp:253-265). ``numRowPerSynapse = 1``
and ``numColPerSynapse`` = our columns per weight (main.cpp:133-142).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class LayerShape(Protocol):
    """What the floorplan reads of a layer: :class:`simulator.cost.model.LayerShape` (a
    protocol here, so the two modules do not import each other)."""

    kind: str
    in_features: int
    out_features: int
    positions: int
    ifm_size: int | None
    kernel_area: int | None


def ifm_side(layer: LayerShape) -> int:
    """Input feature-map side [pixels] (NeuroSim's ``netStructure[i][0]``)."""
    if layer.ifm_size is not None:
        return layer.ifm_size
    return max(1, round(math.sqrt(layer.positions))) if layer.kind == "conv" else 1


def _cube(n: float) -> float:
    """``2^ceil(log2 n)`` (NeuroSim's ``minCube``, Chip.cpp:129/134/145)."""
    return float(2 ** math.ceil(math.log2(n)))


def _dup(rows_needed: float, cols_needed: float, side: float, unit_r: int, unit_c: int) -> int:
    """How many copies of a ``rows_needed x cols_needed`` matrix fit in a ``side x side`` block
    of ``unit_r x unit_c`` units when it is small along one axis (Chip.cpp:1189-1196,
    1245-1252): ``max(1, floor(units / units per copy))`` per axis."""
    if rows_needed > side and cols_needed > side:
        return 1
    per_r, per_c = math.ceil(rows_needed / unit_r), math.ceil(cols_needed / unit_c)
    dup_r = max(1, math.ceil(side / unit_r) // per_r)
    dup_c = max(1, math.ceil(side / unit_c) // per_c)
    return dup_r * dup_c


def _best_side(start: float, floor_side: float, utilization) -> float:
    """The side from ``start`` halving while ``> floor_side`` with the highest utilization
    (strictly better replaces; ``start`` when none is better than 0)."""
    best, best_u, side = start, 0.0, start
    while side > floor_side:
        u = utilization(side)
        if u > best_u:
            best, best_u = side, u
        side /= 2
    return best


def pipeline_speed_ups(layers: list[LayerShape], speed_up_degree: int) -> list[int]:
    """NeuroSim's ``pipelineSpeedUp`` (Chip.cpp:151-181); see the module docstring."""
    first = ifm_side(layers[0])
    wide = [ifm_side(layer) for layer in layers if (layer.kernel_area or 1) != 1
            or (layer.kernel_area is None and layer.kind == "conv")]
    degree = min(speed_up_degree, first // min([first, *wide]))  # >= 1
    bound = math.ceil(first / degree)
    return [max(1, math.ceil((ifm_side(layer) / bound) ** 2)) for layer in layers]


@dataclass(frozen=True)
class Floorplan:
    """NeuroSim's chip floorplan of a network (``ChipFloorPlan``, Chip.cpp:189-352); sizes are
    in cells (rows = columns)."""

    novel: list[bool]
    """Per layer: mapped with the novel mapping (``markNM``)."""
    num_pe_nm: int
    """PEs per novel-mapped tile, the most common kernel area (``numPENM``); 0 if none."""
    pe_nm: float
    """Side of a novel-mapped PE (``desiredPESizeNM``); 0 without novel-mapped layers."""
    tile_cm: float
    """Side of a conventional tile (``desiredTileSizeCM``); 0 without conventional layers."""
    pe_cm: float
    """Side of a conventional PE (``desiredPESizeCM``)."""
    dups: list[int]
    """Per layer: PE x sub-array duplication."""
    tiles: list[tuple[int, int]]
    """Per layer: tile rows x tile columns (``numTileEachLayer``, Chip.cpp:1302-1324), the
    rows including the pipeline copies ``ceil(pipeline / dup)``."""

    @property
    def tiles_nm(self) -> int:
        """Novel-mapped tiles on the chip (``desiredNumTileNM``)."""
        return sum(r * c for (r, c), nm in zip(self.tiles, self.novel, strict=True) if nm)

    @property
    def tiles_cm(self) -> int:
        """Conventional tiles on the chip (``desiredNumTileCM``)."""
        return sum(r * c for (r, c), nm in zip(self.tiles, self.novel, strict=True) if not nm)


def duplications(layers: list[LayerShape], rows: int, cols: int, cols_per_weight: int) -> list[int]:
    """PE x sub-array duplication per layer (``PEDesign`` · ``SubArrayDup``) for sub-arrays of
    ``rows x cols`` cells; a layer without ``kernel_area`` is mapped conventionally."""
    return _design(layers, rows, cols, cols_per_weight)[5]


def _design(layers: list[LayerShape], rows: int, cols: int, cols_per_weight: int
            ) -> tuple[list[bool], int, float, float, float, list[int]]:
    """``(novel, numPENM, PE side NM, tile side CM, PE side CM, duplications)``."""
    kernel = [layer.kernel_area or 1 for layer in layers]
    out_cols = [layer.out_features * cols_per_weight for layer in layers]
    most, num_pe = 0, 0  # numPENM: the most common kernel area (> 1), Chip.cpp:106-120
    for k in kernel:
        count = 1
        for other in kernel:
            if k == other and k != 1:
                count += 1
            if most < count:
                most, num_pe = count, k
    novel = [layer.kernel_area is not None and k == num_pe and layer.in_features >= rows
             for layer, k in zip(layers, kernel, strict=True)]
    channels = [layer.in_features // k for layer, k in zip(layers, kernel, strict=True)]
    nm = [i for i, flag in enumerate(novel) if flag]
    cm = [i for i, flag in enumerate(novel) if not flag]

    pe_nm = 0.0
    if nm:
        def util_nm(side: float) -> float:
            tiles = sum(math.ceil(channels[i] / side) * math.ceil(out_cols[i] / side) for i in nm)
            return sum(layers[i].in_features * out_cols[i] for i in nm) / (
                tiles * side * side * num_pe)

        start = max(max(_cube(out_cols[i]) for i in nm), 2 * rows)
        pe_nm = _best_side(start, 2 * rows, util_nm)

    tile = pe_cm = 0.0
    if cm:
        cm_cells = sum(layers[i].in_features * out_cols[i] for i in cm)

        def tiles_cm(side: float) -> int:
            return sum(math.ceil(layers[i].in_features / side) * math.ceil(out_cols[i] / side)
                       for i in cm)

        start = max(max(_cube(out_cols[i]) for i in cm), 4 * rows)
        best_u, side, tile = 0.0, start, start
        while side > 4 * rows:  # Chip.cpp:240-251
            u = cm_cells / (tiles_cm(side) * side * side)
            if u > best_u:
                best_u, tile = u, side
            side /= 2
        n_tiles = tiles_cm(tile)

        def util_pe(pe: float) -> float:  # PEDesign(true, ...), Chip.cpp:1179-1211
            filled = sum(_dup(layers[i].in_features, out_cols[i], tile, pe, pe)
                         * layers[i].in_features * out_cols[i] for i in cm)
            return filled / (n_tiles * tile * tile)

        pe_cm, side = tile / 2, tile / 2
        while side > 2 * rows:  # Chip.cpp:255-265: continues from the tile's best utilization
            u = util_pe(side)
            if u > best_u:
                best_u, pe_cm = u, side
            side /= 2

    dups = []
    for i, layer in enumerate(layers):
        if novel[i]:
            dups.append(_dup(channels[i], out_cols[i], pe_nm, rows, cols))
        else:
            pe = _dup(layer.in_features, out_cols[i], tile, pe_cm, pe_cm)
            dups.append(pe * _dup(layer.in_features, out_cols[i], pe_cm, rows, cols))
    return novel, num_pe, pe_nm, tile, pe_cm, dups


def floorplan(layers: list[LayerShape], speed_up_degree: int, rows: int, cols: int,
              cols_per_weight: int) -> Floorplan:
    """The :class:`Floorplan` of ``layers`` on ``rows x cols`` sub-arrays: a novel-mapped layer
    takes ``ceil(C / PE) x ceil(C_out·cols_per_weight / PE)`` tiles (``C`` its input channels),
    a conventional one ``ceil(C·k² / tile) x ceil(C_out·cols_per_weight / tile)``, the rows times
    ``ceil(pipeline / dup)`` when the pipeline is on (``speed_up_degree > 1``)."""
    novel, num_pe, pe_nm, tile, pe_cm, dups = _design(layers, rows, cols, cols_per_weight)
    pipe = (pipeline_speed_ups(layers, speed_up_degree) if speed_up_degree > 1
            else [1] * len(layers))
    tiles = []
    for layer, nm, p, d in zip(layers, novel, pipe, dups, strict=True):
        out = layer.out_features * cols_per_weight
        if nm:
            k = layer.kernel_area or 1
            r, c = math.ceil(layer.in_features // k / pe_nm), math.ceil(out / pe_nm)
        else:
            r, c = math.ceil(layer.in_features / tile), math.ceil(out / tile)
        tiles.append((r * math.ceil(p / d), c))
    return Floorplan(novel=novel, num_pe_nm=num_pe if pe_nm else 0, pe_nm=pe_nm, tile_cm=tile,
                     pe_cm=pe_cm, dups=dups, tiles=tiles)


def speed_ups(layers: list[LayerShape], speed_up_degree: int, rows: int, cols: int,
              cols_per_weight: int) -> list[int]:
    """Weight copies per layer, NeuroSim's printed "Speed-up of each layer":
    ``dup · ceil(pipeline / dup)`` (Chip.cpp:1337-1338). ``speed_up_degree = 1`` gives no
    copies at all (NeuroSim has no switch for duplication; ours keeps 1 as "none")."""
    if speed_up_degree == 1:
        return [1] * len(layers)
    pipe = pipeline_speed_ups(layers, speed_up_degree)
    dups = duplications(layers, rows, cols, cols_per_weight)
    return [d * math.ceil(p / d) for p, d in zip(pipe, dups, strict=True)]
