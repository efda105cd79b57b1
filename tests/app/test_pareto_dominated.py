"""The pure-Python dominance check that lets a dominated result skip the front's tensors
(``pareto._dominated``) answers as ``pareto_mask`` does, ties and mixed directions included."""

from __future__ import annotations

import random
from types import SimpleNamespace

import torch

from app.services.pareto import _dominated
from optimizer.pareto import pareto_mask


def test_dominated_matches_pareto_mask() -> None:
    rng = random.Random(4)
    directions = ["maximize", "minimize", "maximize"]
    study = SimpleNamespace(objectives=[{"name": f"f{j}", "direction": d}
                                        for j, d in enumerate(directions)])
    n_dominated = 0
    for _ in range(400):
        grid = [0.0, 0.5, 1.0]  # a coarse grid: ties and duplicates are common
        vectors = [[rng.choice(grid) for _ in directions] for _ in range(rng.randint(1, 6))]
        Y = torch.tensor(vectors, dtype=torch.double)
        front = [v for v, keep in zip(vectors, pareto_mask(Y, directions).tolist(),
                                      strict=True) if keep]
        new = [rng.choice(grid) for _ in directions]
        mask = pareto_mask(torch.tensor([*front, new], dtype=torch.double), directions)
        got = _dominated(study, front, {f"f{j}": x for j, x in enumerate(new)})
        assert got == (not bool(mask[-1])), (front, new)
        n_dominated += got
    assert 50 < n_dominated < 350  # both answers were exercised
    nan = {"f0": float("nan"), "f1": 0.0, "f2": 0.0}
    assert _dominated(study, [[1.0, 0.0, 1.0]], nan) is False  # left to the tensor path
