"""Tests of ``optimizer.problems``: values match BoTorch, options are validated."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.test_functions.multi_objective import DTLZ2, ZDT1
from botorch.test_functions.multi_objective_multi_fidelity import MOMFBraninCurrin, MOMFPark

from optimizer.pareto import hypervolume
from optimizer.problems import available_problems, get_problem
from optimizer.problems.reference import MOMF_MAX_HV, estimate_max_hv


def test_available() -> None:
    """The five benchmark problems are registered."""
    assert set(available_problems()) == {"branin-currin", "momf-park", "crossbar-digits",
                                         "dtlz2", "zdt1"}


def test_branin_currin_matches_botorch_and_hand_values() -> None:
    """Values equal MOMFBraninCurrin(negate=True); at x=(0.5, 0.5), s=1 Branin/22 and
    Currin/15 by hand; cost exp(4.8 s)."""
    p = get_problem("branin-currin")
    assert p.space.dim == 2 and p.space.fidelity_range == (0.0, 1.0)
    assert [o.direction for o in p.objectives] == ["maximize", "maximize"]
    assert p.ref_point == [0.0, 0.0] and p.max_hv == MOMF_MAX_HV["MOMFBraninCurrin"]
    assert p.botorch_max_hv == pytest.approx(0.5235514158034145)
    values, cost = p.evaluate({"x0": 0.5, "x1": 0.5}, 1.0)
    x11, x22 = 2.5, 7.5
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    branin = (x22 - b * x11**2 + c * x11 - 6) ** 2 + 10 * (1 - t) * math.cos(x11) + 10
    currin = (2300 / 8 + 1900 / 4 + 1046 + 60) / (100 / 8 + 500 / 4 + 2 + 20)
    assert values["f0"] == pytest.approx((21 - branin) / 22)
    assert values["f1"] == pytest.approx((14 - currin) / 15)
    assert cost == pytest.approx(math.exp(4.8))
    assert p.evaluate({"x0": 0.5, "x1": 0.5}, 0.0)[1] == pytest.approx(1.0)
    X = torch.rand(64, 3, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(p.evaluate_batch(X), MOMFBraninCurrin(negate=True)(X))


def test_momf_park_matches_botorch() -> None:
    """MOMFPark(negate=True) values at random (x, s); 4 design dims plus the fidelity."""
    p = get_problem("momf-park")
    assert p.space.dim == 4 and p.has_fidelity
    X = torch.rand(64, 5, dtype=torch.double, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(p.evaluate_batch(X), MOMFPark(negate=True)(X))
    assert p.max_hv == MOMF_MAX_HV["MOMFPark"]
    assert p.botorch_max_hv == pytest.approx(0.08551927363087991)


def test_dtlz2_and_zdt1_match_botorch() -> None:
    """Single-fidelity problems: values, reference points and max HV as BoTorch defines."""
    d = get_problem("dtlz2", dim=5, num_objectives=3)
    X = torch.rand(32, 5, dtype=torch.double, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(d.evaluate_batch(X), DTLZ2(dim=5, num_objectives=3)(X))
    assert d.ref_point == [1.1] * 3 and not d.has_fidelity
    assert d.max_hv == pytest.approx(1.1**3 - 4 / 3 * math.pi / 8)  # cube - ball octant
    z = get_problem("zdt1")
    X = torch.rand(32, 6, dtype=torch.double, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(z.evaluate_batch(X), ZDT1(dim=6)(X))
    assert z.max_hv == pytest.approx(120 + 2 / 3) and z.ref_point == [11.0, 11.0]
    assert z.evaluate({f"x{i}": 0.0 for i in range(6)}) == ({"f0": 0.0, "f1": 1.0}, 1.0)


def test_zdt1_true_front_reaches_max_hv() -> None:
    """Points on ZDT1's true front (x1.. = 0) have HV within 0.1% of max_hv."""
    z = get_problem("zdt1")
    X = torch.zeros(2001, 6, dtype=torch.double)
    X[:, 0] = torch.linspace(0, 1, 2001, dtype=torch.double)
    hv = hypervolume(z.evaluate_batch(X), z.directions, z.ref_point)
    assert hv == pytest.approx(z.max_hv, rel=1e-3) and hv <= z.max_hv


def test_branin_currin_max_hv_bounds_a_dense_grid() -> None:
    """A 401 x 401 grid at s = 1 reaches 98.5% of max_hv but not more than it (BoTorch's
    0.52355 would be 4% above anything the grid attains)."""
    p = get_problem("branin-currin")
    g = torch.linspace(0, 1, 401, dtype=torch.double)
    hv = p.hypervolume(p.evaluate_batch(torch.cartesian_prod(g, g)))
    assert 0.985 * p.max_hv < hv <= p.max_hv
    assert p.botorch_max_hv is not None and hv < 0.97 * p.botorch_max_hv


@pytest.mark.slow
@pytest.mark.parametrize("name", ["branin-currin", "momf-park"])
def test_momf_max_hv_is_reproduced_by_a_small_nsga2_run(name: str) -> None:
    """estimate_max_hv with a small budget lands within 2.5% below the stored max_hv (the
    stored value came from the same procedure with a larger budget) and never above it."""
    p = get_problem(name)
    hv = estimate_max_hv(p.evaluate_batch, p.space.dim, p.directions, p.ref_point,
                         pop_size=100, n_gen=100, seeds=1)
    assert p.max_hv is not None
    assert 0.975 * p.max_hv < hv <= p.max_hv * (1 + 1e-9)
    if name == "momf-park":
        assert p.botorch_max_hv is not None and hv > p.botorch_max_hv


def test_bad_options_and_fidelity_raise() -> None:
    """Unknown names/options and out-of-range fidelities raise ValueError naming them."""
    with pytest.raises(ValueError, match="unknown problem 'branin'"):
        get_problem("branin")
    with pytest.raises(ValueError, match="options.dim"):
        get_problem("dtlz2", dim=2, num_objectives=2)
    with pytest.raises(ValueError, match="options.dim"):
        get_problem("zdt1", dim=-1)
    with pytest.raises(ValueError, match=r"\['noise'\]"):
        get_problem("branin-currin", noise=0.1)
    with pytest.raises(ValueError, match="options.dim must be an integer"):
        get_problem("zdt1", dim="6")
    with pytest.raises(ValueError, match="fidelity"):
        get_problem("zdt1").evaluate({f"x{i}": 0.0 for i in range(6)}, 0.5)
    with pytest.raises(ValueError, match="fidelity"):
        get_problem("branin-currin").evaluate({"x0": 0.1, "x1": 0.1}, 1.5)
