"""The same definition and seed give the same trials: for model-free methods (sobol, random)
trial i's params and fidelity depend only on the seed and i, whatever the parallelism and the
order evaluations finish in."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from app.execution.tasks import suggest_numbers
from app.problems import resolve
from app.schemas.study import StudyCreate
from tests.app.conftest import BRANIN
from tests.app.helpers import wait_for

API = "/api/v1"
N = 8


def _run(client, body: dict[str, Any]) -> list[tuple[int, dict[str, Any], float]]:
    """POST ``body``, wait (bounded) until it completes; its trials as (number, params,
    fidelity) by number."""
    sid = client.post(f"{API}/studies", json=body).json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] == "completed", 90)
    trials = client.get(f"{API}/studies/{sid}/trials").json()["data"]
    assert all(t["state"] == "completed" for t in trials)
    return [(t["number"], t["params"], t["fidelity"]) for t in trials]


@pytest.mark.parametrize("method", ["sobol", "random"])
def test_same_definition_same_trials(client, method: str) -> None:
    """The same study twice at parallelism 2, and once more at parallelism 3 (other batch
    sizes, other timing): all three have identical params and fidelities for trials 0..7, and
    a different seed gives other params."""
    body = {**BRANIN, "optimizer": {"method": method}, "budget": {"max_trials": N},
            "parallelism": 2, "seed": 11}
    first, second = _run(client, body), _run(client, body)
    third = _run(client, {**body, "parallelism": 3})
    assert [n for n, _, _ in first] == list(range(N))
    assert first == second == third
    assert len({tuple(sorted(p.items())) for _, p, _ in first}) == N  # N distinct points
    other = _run(client, {**body, "seed": 12})
    assert [p for _, p, _ in other] != [p for _, p, _ in first]


@pytest.mark.parametrize("method", ["sobol", "random"])
def test_batches_do_not_change_suggestions(method: str) -> None:
    """suggest_numbers for trials 0..5 asked at once, or as 1 + 2 + 3 continuing from the
    trials handed out so far, gives the same six suggestions."""
    resolved = resolve(StudyCreate(**{**BRANIN, "optimizer": {"method": method}}))
    objectives = [asdict(o) for o in resolved.objectives]

    def ask(handed_out: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
        out = suggest_numbers(resolved.search_space, objectives, handed_out, n, method, 7,
                              resolved.options)
        return [{"params": s["params"], "fidelity": s["fidelity"]} for s in out]

    at_once = ask([], 6)
    stepwise: list[dict[str, Any]] = []
    for n in (1, 2, 3):
        stepwise += ask(stepwise, n)
    assert stepwise == at_once
    assert len({tuple(sorted(s["params"].items())) for s in at_once}) == 6
