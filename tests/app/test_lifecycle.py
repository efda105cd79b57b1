"""Study state transitions and the incremental Pareto front at the study's target fidelity.

The lease, record-once and requeue contract of trials is in ``test_storage_contract.py``.
"""

from __future__ import annotations

import pytest
import torch
from sqlalchemy import select

from app.core.errors import ConflictError
from app.models import Event, Study, StudyState, Trial, TrialState
from app.problems.crossbar import default_params
from app.services import lifecycle, pareto
from optimizer.pareto import default_ref_point, hypervolume, pareto_mask
from tests.app.helpers import add_trial, claim, complete, new_study


def test_study_transitions_table(database) -> None:
    """Only the documented study transitions are allowed; cancelling closes open trials."""
    sid = new_study(database)
    q = add_trial(database, sid)
    with database.session() as s:
        st = s.get(Study, sid)
        lifecycle.transition_study(s, st, StudyState.PAUSED)
        lifecycle.transition_study(s, st, "running")
        with pytest.raises(ConflictError, match="is 'running'; it cannot become 'created'"):
            lifecycle.transition_study(s, st, StudyState.CREATED)
        lifecycle.transition_study(s, st, StudyState.CANCELLED)
        assert st.finished_at is not None
        with pytest.raises(ConflictError, match=r"Allowed from 'cancelled': none\."):
            lifecycle.transition_study(s, st, StudyState.RUNNING)
    with database.session() as s:
        t = s.get(Trial, q)
        assert (t.state, t.error) == (TrialState.FAILED, "study cancelled")
        assert s.get(Study, sid).n_failed == 1  # the trial the cancel closed is counted
        moves = [(e.payload["from"], e.payload["to"]) for e in s.scalars(
            select(Event).where(Event.study_id == sid, Event.type == "study.state")
            .order_by(Event.id))]
    assert moves == [(None, "created"), ("running", "paused"), ("paused", "running"),
                     ("running", "cancelled")]


def _fail(db, study_id: int, reason: str) -> None:
    """Add a trial, claim it and fail it for good with ``reason``."""
    trial_id = add_trial(db, study_id)
    token = claim(db, trial_id)
    with db.session() as s:
        assert lifecycle.fail_attempt(s, trial_id, token, reason, retryable=False,
                                      max_attempts=3) == TrialState.FAILED


def test_finish_study_fails_only_when_every_trial_failed(database) -> None:
    """A finished study with one completed and one failed trial is completed; one whose two
    trials both failed is failed, naming the count and the lowest-numbered trial's error."""
    mixed, bad = new_study(database), new_study(database)
    complete(database, mixed, {"f0": 1.0, "f1": 1.0})
    _fail(database, mixed, "boom")
    _fail(database, bad, "first boom")
    _fail(database, bad, "second boom")
    with database.session() as s:
        assert lifecycle.finish_study(s, s.get(Study, mixed)) == StudyState.COMPLETED
        assert lifecycle.finish_study(s, s.get(Study, bad)) == StudyState.FAILED
    with database.session() as s:
        assert (s.get(Study, mixed).state, s.get(Study, mixed).error) == ("completed", None)
        st = s.get(Study, bad)
        assert (st.state, st.error) == ("failed", "all 2 trials failed; first error: first boom")
        assert (st.n_completed, st.n_failed) == (0, 2)


def test_incremental_front_matches_batch(database) -> None:
    """After many completions, the is_pareto flags equal a batch non-dominated sort of all
    full-fidelity results, low-fidelity results never join, pareto_version counts exactly the
    completions that joined the front, and the hypervolume is the batch one."""
    sid = new_study(database)
    g = torch.Generator().manual_seed(0)
    Y = torch.rand(40, 2, generator=g, dtype=torch.double)
    ids = []
    for i, y in enumerate(Y):
        fid = 0.5 if i % 5 == 4 else 1.0
        rec = complete(database, sid, {"f0": float(y[0]), "f1": float(y[1])}, fidelity=fid)
        ids.append((rec.trial_id, fid, rec.on_front))
    full = [i for i, (_, f, _) in enumerate(ids) if f == 1.0]
    with database.session() as s:
        study = s.get(Study, sid)
        dirs = pareto.directions(study)
        expected = pareto_mask(Y[full], dirs)
        flags = {t.id: t.is_pareto for t in s.scalars(select(Trial).where(Trial.study_id == sid))}
        got = torch.tensor([flags[ids[i][0]] for i in full])
        assert torch.equal(got, expected)
        assert not any(flags[t] or on for t, f, on in ids if f < 1.0)
        # a completion joins the front when no earlier full-fidelity result dominates it
        joined = [bool(pareto_mask(Y[full[: k + 1]], dirs)[-1]) for k in range(len(full))]
        assert [ids[i][2] for i in full] == joined
        assert study.ref_point == [0.0, 0.0]  # the study's own, so no auto-ref bump
        assert study.pareto_version == sum(joined)
        assert study.hypervolume == pytest.approx(
            hypervolume(Y[full][expected], dirs, study.ref_point))


def _crossbar_study(db, fidelity_range: list[float]) -> int:
    space = {"params": default_params(), "fidelity_range": fidelity_range}
    return new_study(db, problem={"name": "crossbar", "search_space": space},
                     optimizer={"method": "sobol"})


def test_front_uses_the_study_target_fidelity(database) -> None:
    """A crossbar study with fidelity_range [0, 0.8] and no reference point stores target
    fidelity 0.8: results at 0.8 fill the front, fix a data-derived reference point after
    MIN_POINTS_FOR_AUTO_REF of them and get a hypervolume; results below 0.8 never join."""
    sid = _crossbar_study(database, [0.0, 0.8])
    with database.session() as s:
        study = s.get(Study, sid)
        assert (study.target_fidelity, study.ref_point) == (0.8, None)
        names, dirs = pareto.objective_names(study), pareto.directions(study)
    g = torch.Generator().manual_seed(1)
    Y = torch.rand(pareto.MIN_POINTS_FOR_AUTO_REF + 1, len(names), generator=g,
                   dtype=torch.double)
    low = complete(database, sid, dict(zip(names, Y[0].tolist(), strict=True)), fidelity=0.5)
    assert not low.on_front
    for y in Y:
        complete(database, sid, dict(zip(names, y.tolist(), strict=True)), fidelity=0.8)
    with database.session() as s:
        study = s.get(Study, sid)
        ref = default_ref_point(Y[: pareto.MIN_POINTS_FOR_AUTO_REF], dirs)
        assert study.ref_point == pytest.approx(ref)
        front = Y[pareto_mask(Y, dirs)]
        assert study.hypervolume == pytest.approx(hypervolume(front, dirs, study.ref_point))
        assert study.hypervolume > 0
        assert not s.get(Trial, low.trial_id).is_pareto


def test_target_fidelity_is_stored_at_creation(database) -> None:
    """The stored target is the top of the resolved space's fidelity range."""
    with database.session() as s:
        assert s.get(Study, new_study(database)).target_fidelity == 1.0
        assert s.get(Study, _crossbar_study(database, [0.1, 0.6])).target_fidelity == 0.6
