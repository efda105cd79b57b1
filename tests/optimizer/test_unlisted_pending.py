"""Pending points passed as a count (``suggest(..., n_unlisted_pending=k)``): random and sobol
suggest exactly what they suggest with those ``k`` points listed, so a model-free study can
ask for trial 100k without shipping 100k rows; every other method, and any finite space,
refuses the count."""

from __future__ import annotations

import pytest

from optimizer.errors import OptimizerError
from optimizer.space import SearchSpace
from optimizer.suggest import suggest
from optimizer.types import Suggestion
from tests.optimizer.cases import MIXED, OBJ

FINITE = SearchSpace.from_spec({"params": [
    {"name": "k", "type": "int", "low": 0, "high": 3},
    {"name": "c", "type": "categorical", "choices": ["a", "b"]}]})


@pytest.mark.parametrize("method", ["random", "sobol"])
def test_a_count_suggests_what_the_listed_points_suggest(method: str) -> None:
    listed: list[Suggestion] = []
    for _ in range(5):  # five earlier trials, each suggested with the ones before as pending
        listed += suggest(MIXED, OBJ, [], listed, 1, method, 7)
    by_rows = suggest(MIXED, OBJ, [], listed, 3, method, 7)
    by_count = suggest(MIXED, OBJ, [], [], 3, method, 7, n_unlisted_pending=5)
    assert [s.params for s in by_count] == [s.params for s in by_rows]
    fresh = suggest(MIXED, OBJ, [], [], 3, method, 7)  # the count matters
    assert [s.params for s in fresh] != [s.params for s in by_rows]


@pytest.mark.parametrize(("method", "space", "count", "message"), [
    ("nsga2", MIXED, 3, "needs every pending point listed"),
    ("random", FINITE, 3, "a finite space skips taken points"),
    ("sobol", MIXED, -1, "n_unlisted_pending must be an integer >= 0"),
])
def test_a_count_is_refused_where_it_cannot_be_honoured(method: str, space: SearchSpace,
                                                        count: int, message: str) -> None:
    with pytest.raises(OptimizerError, match=message):
        suggest(space, OBJ, [], [], 1, method, 7, n_unlisted_pending=count)
