"""Test helpers: make studies and trials directly in the database."""

from __future__ import annotations

import socket
import time
from typing import Any

from app.core.db import Database
from app.models import Study, StudyState, Trial, TrialState
from app.schemas.study import StudyCreate
from app.services import leases, lifecycle
from app.services.lifecycle import Recorded
from app.services.studies import create_study
from tests.app.conftest import BRANIN


def new_study(db: Database, **overrides: Any) -> int:
    with db.session() as s:
        study = create_study(s, StudyCreate(**{**BRANIN, **overrides}), None)
        study.state = StudyState.RUNNING
        return study.id


def add_trial(db: Database, study_id: int, params: dict | None = None, fidelity: float = 1.0,
              state: str = TrialState.QUEUED) -> int:
    with db.session() as s:
        study = s.get(Study, study_id)
        assert study is not None
        n = study.next_number
        study.next_number += 1
        t = Trial(study_id=study_id, number=n, state=state, params=params or {"x0": 0.5, "x1": 0.5},
                  fidelity=fidelity, seed=n, attempt=0, is_pareto=False)
        s.add(t)
        s.flush()
        return t.id


def claim(db: Database, trial_id: int, lease_s: float = 30.0) -> str:
    """Claim a queued trial for worker ``"w"`` (lease of ``lease_s`` seconds); its token."""
    with db.session() as s:
        token = leases.claim_trial(s, s.get(Trial, trial_id), "w", lease_s)
    assert token is not None
    return token


def complete(db: Database, study_id: int, values: dict[str, float], fidelity: float = 1.0,
             cost_s: float = 1.0) -> Recorded:
    """Add a trial at ``fidelity``, claim it and record ``values`` (``cost_s`` seconds)."""
    trial_id = add_trial(db, study_id, fidelity=fidelity)
    token = claim(db, trial_id)
    with db.session() as s:
        recorded = lifecycle.record_result(s, trial_id, token, values, cost_s, {})
    assert recorded is not None
    return recorded


def wait_for(pred, timeout: float = 60.0, interval: float = 0.1) -> None:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
