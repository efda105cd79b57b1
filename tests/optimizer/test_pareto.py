"""Tests of ``optimizer.pareto``: dominance, Pareto masks, hypervolume, reference points."""

from __future__ import annotations

import pytest
import torch

from optimizer.errors import OptimizerError
from optimizer.pareto import default_ref_point, dominates, hypervolume, pareto_mask

MIN2 = ["minimize", "minimize"]
# three front points, one dominated, one beyond the reference point (4, 4) in f0
POINTS = torch.tensor([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.0, 3.0], [5.0, 0.0]],
                      dtype=torch.double)


def test_pareto_mask_on_a_hand_made_set() -> None:
    """Only (3, 3) is dominated (by (2, 2)); (5, 0) is non-dominated (best f1)."""
    assert pareto_mask(POINTS, MIN2).tolist() == [True, True, True, False, True]


def test_pareto_mask_mixed_directions_and_duplicates() -> None:
    """Maximizing f1 instead turns the front around; duplicates and NaN rows are handled."""
    Y = torch.tensor([[1.0, 1.0], [2.0, 3.0], [2.0, 3.0], [1.0, float("nan")]],
                     dtype=torch.double)
    assert pareto_mask(Y, ["minimize", "maximize"]).tolist() == [True, True, True, False]
    assert pareto_mask(Y, MIN2).tolist() == [True, False, False, False]
    assert pareto_mask(torch.empty(0, 2, dtype=torch.double), MIN2).tolist() == []


def test_dominates() -> None:
    """Weak improvement in all objectives plus strict in one; equal points do not dominate."""
    assert dominates([1, 2], [1, 3], MIN2)
    assert not dominates([1, 3], [1, 3], MIN2)
    assert not dominates([1, 4], [2, 3], MIN2)
    assert dominates([2, 3], [1, 3], ["maximize", "minimize"])


def test_hypervolume_of_a_hand_computed_front() -> None:
    """Staircase (1,3),(2,2),(3,1) under ref (4,4): 1*1 + 1*2 + 1*3 = 6; dominated and
    non-dominating points add nothing."""
    assert hypervolume(POINTS, MIN2, [4.0, 4.0]) == pytest.approx(6.0)
    assert hypervolume(POINTS[:3], MIN2, [4.0, 4.0]) == pytest.approx(6.0)
    flipped = POINTS.clone()
    flipped[:, 0] *= -1  # maximize -f0: same geometry
    assert hypervolume(flipped, ["maximize", "minimize"], [-4.0, 4.0]) == pytest.approx(6.0)
    assert hypervolume(POINTS[4:], MIN2, [4.0, 4.0]) == 0.0
    assert hypervolume(torch.empty(0, 2, dtype=torch.double), MIN2, [4.0, 4.0]) == 0.0


def test_hypervolume_3d_box() -> None:
    """A single point is a box: volume = product of its distances to the reference."""
    Y = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.double)
    assert hypervolume(Y, ["maximize"] * 3, [0.0, 0.0, 0.0]) == pytest.approx(6.0)


def test_default_ref_point_is_nadir_minus_ten_percent() -> None:
    """Nadir (3, 3) of the first four points moved 10% of the ranges (2, 2) outwards."""
    ref = default_ref_point(POINTS[:4], MIN2)
    assert ref == pytest.approx([3.2, 3.2])
    ref = default_ref_point(POINTS[:4], ["maximize", "minimize"])
    assert ref == pytest.approx([0.8, 3.2])
    one = default_ref_point(torch.tensor([[2.0, -5.0]], dtype=torch.double), MIN2)
    assert one == pytest.approx([2.2, -4.5])  # zero range: 10% of max(|nadir|, 1)


def test_bad_inputs_raise() -> None:
    """Mismatched directions, ref point length and unknown directions raise, naming them."""
    with pytest.raises(OptimizerError, match="directions"):
        pareto_mask(POINTS, ["minimize"])
    with pytest.raises(OptimizerError, match=r"directions\[1\]"):
        pareto_mask(POINTS, ["minimize", "down"])
    with pytest.raises(OptimizerError, match="ref_point"):
        hypervolume(POINTS, MIN2, [1.0])
    with pytest.raises(OptimizerError, match="values"):
        default_ref_point(torch.empty(0, 2, dtype=torch.double), MIN2)


def test_two_objective_fast_path_matches_botorch() -> None:
    """The O(n log n) 2-D front used by hypervolume gives the same volume as BoTorch's
    generic non-dominated filter, ties and duplicates included."""
    from botorch.utils.multi_objective.box_decompositions.dominated import (
        DominatedPartitioning,
    )

    g = torch.Generator().manual_seed(0)
    Y = torch.rand(400, 2, generator=g, dtype=torch.double).mul(10).round()  # many ties
    ref = torch.tensor([-1.0, -1.0], dtype=torch.double)
    expected = DominatedPartitioning(ref_point=ref, Y=Y).compute_hypervolume().item()
    assert hypervolume(Y, ["maximize"] * 2, [-1.0, -1.0]) == pytest.approx(expected)
