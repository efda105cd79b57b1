r"""The benchmark problems, built from BoTorch's test functions.

- ``branin-currin``: ``MOMFBraninCurrin(negate=True)`` [Irshad2021]_, 2 design dims plus the
  fidelity s in [0, 1]; both objectives maximized, reference point (0, 0), max HV 0.50367 at
  s = 1 (our estimate; BoTorch's ``_max_hv`` 0.52355 is not attainable, see
  ``optimizer.problems.reference``). Cost ``exp(4.8 s)`` as in BoTorch's multi-objective
  multi-fidelity tutorial (``cost_func``), so a full evaluation costs ``e^4.8 = 121.5`` units
  and the cheapest ``1``.
- ``momf-park``: ``MOMFPark(negate=True)`` [Irshad2021]_, 4 design dims plus the fidelity; same
  conventions and cost; max HV 0.08982 (our estimate; BoTorch's 0.08552 is exceeded by
  random points).
- ``crossbar-digits``: 216 ReRAM crossbar designs x 4 fidelities of digits-cnn, tabulated
  from real simulator evaluations with their measured costs (``optimizer.problems.
  crossbar_table``); accuracy maximized, area, latency and energy minimized.
- ``dtlz2``: ``DTLZ2(dim, num_objectives)`` [Deb2005]_, minimized, reference point 1.1 per
  objective, single fidelity, cost 1 per evaluation. Options ``dim`` (default 6) and
  ``num_objectives`` (default 2, ``< dim``).
- ``zdt1``: ``ZDT1(dim)`` [Zitzler2000]_, minimized, reference point (11, 11), max HV 120 + 2/3,
  single fidelity, cost 1. Option ``dim`` (default 6, ``>= 2``).

The BoTorch sign convention: the un-negated MOMF problems return ``(-B, -C)`` for minimization;
with ``negate=True`` they return the Branin/Currin (Park) values to *maximize* with reference
point 0, which is how the tutorial (and ``_max_hv``) uses them.

References:
    .. [Irshad2021] F. Irshad, S. Karsch, A. Döpp. Expected hypervolume improvement for
       simultaneous multi-objective and multi-fidelity optimization. arXiv:2112.13901, 2021.
    .. [Deb2005] K. Deb, L. Thiele, M. Laumanns, E. Zitzler. Scalable test problems for
       evolutionary multiobjective optimization. 2005.
    .. [Zitzler2000] E. Zitzler, K. Deb, L. Thiele. Comparison of multiobjective evolutionary
       algorithms: empirical results. Evolutionary Computation 8(2), 2000.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from botorch.test_functions import multi_objective_multi_fidelity as mf
from botorch.test_functions.multi_objective import DTLZ2, ZDT1
from torch import Tensor

from optimizer.problems.base import BenchmarkProblem
from optimizer.problems.crossbar_table import crossbar_digits
from optimizer.problems.reference import MOMF_MAX_HV
from optimizer.space import FloatParam, SearchSpace
from optimizer.types import Objective

MOMF_COST_RATE = 4.8
"""Exponent of the synthetic cost ``exp(4.8 s)`` of fidelity ``s`` (BoTorch MOMF tutorial)."""


def momf_cost(fidelity: Tensor) -> Tensor:
    """``exp(4.8 s)`` [s-equivalent] for fidelities ``s`` (any shape)."""
    return torch.exp(MOMF_COST_RATE * fidelity)


def _unit_cost(fidelity: Tensor) -> Tensor:
    return torch.ones_like(fidelity)


def _int_option(options: dict[str, Any], key: str, default: int) -> int:
    v = options.pop(key, default)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"options.{key} must be an integer, got {v!r}.")
    return v


def _no_more(name: str, options: dict[str, Any]) -> None:
    if options:
        raise ValueError(f"options: {name} does not take {sorted(options)}.")


def _space(d: int, fidelity: bool) -> SearchSpace:
    params = [FloatParam(name=f"x{i}", low=0.0, high=1.0) for i in range(d)]
    return SearchSpace(params, fidelity_range=(0.0, 1.0) if fidelity else None)


def _objectives(problem: Any, direction: str) -> list[Objective]:
    return [Objective(name=f"f{j}", direction=direction, ref_point=float(r))  # type: ignore[arg-type]
            for j, r in enumerate(problem.ref_point.tolist())]


def _momf(name: str, cls_name: str, options: dict[str, Any]) -> BenchmarkProblem:
    _no_more(name, options)
    problem = getattr(mf, cls_name)(negate=True)
    return BenchmarkProblem(
        name=name,
        space=_space(problem.dim - 1, fidelity=True),
        objectives=_objectives(problem, "maximize"),
        max_hv=MOMF_MAX_HV[cls_name],
        botorch_max_hv=float(problem.max_hv),
        function=lambda X: problem(X, noise=False),
        cost_function=momf_cost,
        description=f"BoTorch {cls_name} (negated: maximize), fidelity last, cost exp(4.8 s)",
    )


def _branin_currin(**options: Any) -> BenchmarkProblem:
    return _momf("branin-currin", "MOMFBraninCurrin", dict(options))


def _momf_park(**options: Any) -> BenchmarkProblem:
    return _momf("momf-park", "MOMFPark", dict(options))


def _single_fidelity(name: str, problem: Any, description: str) -> BenchmarkProblem:
    def function(X: Tensor) -> Tensor:
        return problem(X[:, :-1], noise=False)

    try:
        max_hv: float | None = float(problem.max_hv)
    except NotImplementedError:
        max_hv = None
    return BenchmarkProblem(
        name=name,
        space=_space(problem.dim, fidelity=False),
        objectives=_objectives(problem, "minimize"),
        max_hv=max_hv,
        botorch_max_hv=max_hv,
        function=function,
        cost_function=_unit_cost,
        description=description,
    )


def _dtlz2(**options: Any) -> BenchmarkProblem:
    opts = dict(options)
    dim = _int_option(opts, "dim", 6)
    m = _int_option(opts, "num_objectives", 2)
    _no_more("dtlz2", opts)
    if m < 2:
        raise ValueError(f"options.num_objectives must be >= 2, got {m}.")
    if dim <= m:
        raise ValueError(f"options.dim must exceed options.num_objectives ({m}), got {dim}.")
    return _single_fidelity("dtlz2", DTLZ2(dim=dim, num_objectives=m),
                            f"BoTorch DTLZ2, {dim} dims, {m} objectives (minimize)")


def _zdt1(**options: Any) -> BenchmarkProblem:
    opts = dict(options)
    dim = _int_option(opts, "dim", 6)
    _no_more("zdt1", opts)
    if dim < 2:
        raise ValueError(f"options.dim must be >= 2, got {dim}.")
    return _single_fidelity("zdt1", ZDT1(dim=dim), f"BoTorch ZDT1, {dim} dims (minimize)")


_PROBLEMS: dict[str, Callable[..., BenchmarkProblem]] = {
    "branin-currin": _branin_currin,
    "crossbar-digits": crossbar_digits,
    "momf-park": _momf_park,
    "dtlz2": _dtlz2,
    "zdt1": _zdt1,
}


def available_problems() -> list[str]:
    """Names accepted by ``get_problem``."""
    return list(_PROBLEMS)


def get_problem(name: str, **options: Any) -> BenchmarkProblem:
    """Build the benchmark problem ``name``.

    Raises:
        ValueError: for an unknown name or bad options, naming them.
    """
    if name not in _PROBLEMS:
        raise ValueError(f"problem: unknown problem {name!r}; available: "
                         f"{', '.join(_PROBLEMS)}.")
    return _PROBLEMS[name](**options)


