"""Study and trial queries and the study-creation use case."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, null, select
from sqlalchemy.orm import Session

from app.core.config import Settings, get_settings
from app.core.errors import NotFoundError, ValidationFailed
from app.execution.confirm import has_model
from app.models import Study, StudyState, Trial, TrialResult
from app.problems import ResolvedStudy, resolve
from app.problems.workloads import WorkloadFiles
from app.schemas.study import StudiesPublic, StudyCreate, StudyPublic
from app.schemas.trial import ParetoPoint, ParetoPublic, TrialPublic, TrialsPublic
from app.services.events import emit
from app.services.pagination import decode_cursor, encode_cursor
from app.services.workloads import study_files
from optimizer.space import SearchSpace

MAX_PAGE = 500
FRONT_BODIES_MAX = 64
"""Studies whose evaluated-front JSON body a process keeps (the most recently asked)."""
FRONT_READ_TRIES = 3
"""Reads of a front racing a concurrent update before its body is served uncached."""


def _definition(body: StudyCreate, resolved: ResolvedStudy) -> dict[str, Any]:
    """The stored definition: the request, its resolved evaluator and optimizer options."""
    d = body.model_dump(mode="json")
    d["optimizer"] = {**d.get("optimizer", {}), "options": resolved.options}
    d["evaluator"] = resolved.evaluator
    return d


def _cap_errors(body: StudyCreate, settings: Settings) -> list[dict[str, Any]]:
    """The operator's per-study caps the definition exceeds, as 422 error entries."""
    errors = []
    cap = settings.max_trials_per_study
    if body.budget.max_trials is not None and body.budget.max_trials > cap:
        errors.append({"loc": ["body", "budget", "max_trials"], "type": "value_error",
                       "msg": f"max_trials is at most {cap} on this server "
                              f"(XBAR_MAX_TRIALS_PER_STUDY), got {body.budget.max_trials}"})
    cap = settings.max_parallelism
    if body.parallelism > cap:
        errors.append({"loc": ["body", "parallelism"], "type": "value_error",
                       "msg": f"parallelism is at most {cap} on this server "
                              f"(XBAR_MAX_PARALLELISM), got {body.parallelism}"})
    return errors


def validate_definition(body: StudyCreate, settings: Settings | None = None,
                        files: Mapping[str, WorkloadFiles] | None = None) -> ResolvedStudy:
    """Every semantic check a new study passes (``POST /studies``, ``POST /studies:validate``
    and ``xbar study validate`` all call this one function); nothing is stored.

    Args:
        settings: The per-study caps to enforce; ``get_settings()`` when omitted.
        files: The file workloads the caller may name
            (:func:`app.services.workloads.study_files`); none when omitted.

    Raises:
        ValidationFailed: a semantic error in the definition, or a cap of ``settings``
            exceeded (every bad field listed once).
    """
    errors = _cap_errors(body, settings or get_settings())
    try:
        resolved = resolve(body, files)
    except ValidationFailed as e:
        if errors:
            raise ValidationFailed(e.detail, errors=[*errors, *e.errors]) from e
        raise
    if errors:
        raise ValidationFailed("The study exceeds this server's per-study limits.",
                               errors=errors)
    return resolved


def create_study(
    session: Session, body: StudyCreate, owner_key_id: int | None,
    settings: Settings | None = None,
) -> Study:
    """Validate (:func:`validate_definition`) and store a new study in state ``created`` (a
    driver starts it), with the target fidelity of its resolved search space, and commit it: a
    request that reads it right after the 201 finds it.

    A ``problem.workload`` naming one of the owner's uploads or an operator workload is
    resolved to its blobs' sha256s (:func:`app.services.workloads.study_files`).

    Raises:
        ValidationFailed: as :func:`validate_definition`; nothing is stored.
    """
    settings = settings or get_settings()
    resolved = validate_definition(body, settings, study_files(session, owner_key_id, settings))
    study = Study(
        name=body.name,
        owner_key_id=owner_key_id,
        state=StudyState.CREATED,
        definition=_definition(body, resolved),
        objectives=[asdict(o) for o in resolved.objectives],
        search_space=resolved.search_space,
        ref_point=resolved.reference_point,
        target_fidelity=SearchSpace.from_spec(resolved.search_space).target_fidelity,
        method=resolved.method,
        seed=body.seed,
        parallelism=body.parallelism,
        max_trials=body.budget.max_trials,
        max_cost_s=body.budget.max_cost_s,
        max_wall_s=body.budget.max_wall_s,
        next_number=0,
        n_completed=0,
        n_failed=0,
        total_cost_s=0.0,
        pareto_version=0,
    )
    session.add(study)
    session.flush()
    emit(session, study.id, "study.state", {"from": None, "to": StudyState.CREATED.value})
    session.commit()  # before the 201 goes out, not in the session dependency's teardown
    return study


def get_study(session: Session, study_id: int) -> Study:
    """Raises:
        NotFoundError: no study with that id.
    """
    study = session.get(Study, study_id)
    if study is None:
        raise NotFoundError(f"No study with id {study_id}.")
    return study


def study_public(study: Study) -> StudyPublic:
    d = study.definition
    return StudyPublic(
        id=study.id,
        name=study.name,
        state=study.state,
        problem={k: v for k, v in d["problem"].items() if v not in (None, {}, [])},
        objectives=study.objectives,
        reference_point=study.ref_point,
        method=study.method,
        optimizer_options=d.get("optimizer", {}).get("options", {}),
        search_space=study.search_space,
        target_fidelity=study.target_fidelity,
        budget=d["budget"],
        parallelism=study.parallelism,
        seed=study.seed,
        n_trials=study.next_number,
        n_completed=study.n_completed,
        n_failed=study.n_failed,
        total_cost_s=study.total_cost_s,
        hypervolume=study.hypervolume,
        pareto_version=study.pareto_version,
        predicted_front=has_model(study.method),
        error=study.error,
        created_at=study.created_at,
        started_at=study.started_at,
        finished_at=study.finished_at,
    )


def list_studies(
    session: Session, owner_key_id: int | None, auth_on: bool, limit: int, cursor: str | None,
    state: str | None = None,
) -> StudiesPublic:
    after = decode_cursor(cursor)
    q = select(Study).order_by(Study.id).limit(limit + 1)
    if auth_on:
        q = q.where(Study.owner_key_id == owner_key_id)
    if after is not None:
        q = q.where(Study.id > after)
    if state:
        q = q.where(Study.state == state)
    rows = list(session.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    return StudiesPublic(
        data=[study_public(s) for s in rows],
        next_cursor=encode_cursor(rows[-1].id) if more else None,
    )


def _origin(t: Any) -> str:
    """``"confirm"`` for a confirmation trial (its stored suggestion's ``extras.origin``, set
    by ``app.execution.confirm``), else ``"optimizer"``."""
    extras = (t.suggestion or {}).get("extras") or {}
    return "confirm" if extras.get("origin") == "confirm" else "optimizer"


_TRIAL_COLUMNS = (Trial.id, Trial.study_id, Trial.number, Trial.state, Trial.params,
                  Trial.fidelity, Trial.attempt, Trial.info_gain_per_cost, Trial.is_pareto,
                  Trial.suggestion, Trial.worker, Trial.error, Trial.created_at,
                  Trial.started_at, Trial.completed_at, TrialResult.values, TrialResult.cost_s)
"""What a trial's public form reads (with ``TrialResult.details`` when asked for): columns,
not ORM objects, so a page of trials builds no identity map."""


def _trial_rows(with_details: bool) -> Select[Any]:
    cols = (*_TRIAL_COLUMNS, TrialResult.details if with_details else null().label("details"))
    return select(*cols).outerjoin(TrialResult, TrialResult.trial_id == Trial.id)


def _trial_public(t: Any) -> TrialPublic:
    """A row of ``_trial_rows`` as its public form."""
    return TrialPublic(
        id=t.id,
        study_id=t.study_id,
        number=t.number,
        state=t.state,
        params=t.params,
        fidelity=t.fidelity,
        attempt=t.attempt,
        values=t.values,
        cost_s=t.cost_s,
        info_gain_per_cost=t.info_gain_per_cost,
        is_pareto=t.is_pareto,
        origin=_origin(t),
        worker=t.worker,
        error=t.error,
        details=t.details,
        created_at=t.created_at,
        started_at=t.started_at,
        completed_at=t.completed_at,
    )


def list_trials(
    session: Session,
    study_id: int,
    limit: int,
    cursor: str | None,
    state: str | None = None,
    min_fidelity: float | None = None,
    with_details: bool = False,
) -> TrialsPublic:
    """Trials ordered by ``number``; the cursor is the last number seen, so pages stay stable
    while new trials (with higher numbers) are added."""
    after = decode_cursor(cursor)
    q = _trial_rows(with_details).where(Trial.study_id == study_id).order_by(Trial.number) \
        .limit(limit + 1)
    if after is not None:
        q = q.where(Trial.number > after)
    if state:
        q = q.where(Trial.state == state)
    if min_fidelity is not None:
        q = q.where(Trial.fidelity >= min_fidelity)
    rows = session.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return TrialsPublic(
        data=[_trial_public(t) for t in rows],
        next_cursor=encode_cursor(rows[-1].number) if more else None,
    )


def get_trial(session: Session, study_id: int, number: int) -> TrialPublic:
    row = session.execute(
        _trial_rows(True).where(Trial.study_id == study_id, Trial.number == number)
    ).first()
    if row is None:
        raise NotFoundError(f"Study {study_id} has no trial number {number}.")
    return _trial_public(row)


def pareto_front(session: Session, study: Study) -> ParetoPublic:
    # sorted here, not by SQL: an ORDER BY number makes SQLite walk the (study_id, number)
    # index over every trial of the study instead of the few on the front
    rows = sorted(session.execute(
        select(Trial.id, Trial.number, Trial.params, TrialResult.values, TrialResult.cost_s)
        .join(TrialResult, TrialResult.trial_id == Trial.id)
        .where(Trial.study_id == study.id, Trial.is_pareto.is_(True))
    ).all(), key=lambda row: row.number)
    return ParetoPublic(
        study_id=study.id,
        pareto_version=study.pareto_version,
        objectives=study.objectives,
        reference_point=study.ref_point,
        hypervolume=study.hypervolume,
        points=[
            ParetoPoint(trial_id=t.id, number=t.number, params=t.params, values=t.values,
                        cost_s=t.cost_s)
            for t in rows
        ],
    )


class FrontBodies:
    """The serialized ``GET /pareto`` body of each study's current front version, so an
    unchanged front is served without reading or validating its points again.

    The body is a function of ``(study, pareto_version)``: a front's membership, reference
    point and hypervolume change only with a version bump (:mod:`app.services.pareto`) and a
    member's params and values never change. The study's ``created_at`` is part of the key,
    since SQLite may give a deleted study's id to a new one. One entry per study (the latest
    version asked), at most :data:`FRONT_BODIES_MAX` studies, least recently used dropped.
    Thread-safe: routes call it from the thread pool.
    """

    def __init__(self, max_studies: int = FRONT_BODIES_MAX) -> None:
        self.max_studies = max_studies
        self._bodies: OrderedDict[int, tuple[datetime, int, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, study_id: int, created_at: datetime, version: int) -> bytes | None:
        with self._lock:
            entry = self._bodies.get(study_id)
            if entry is None or entry[:2] != (created_at, version):
                return None
            self._bodies.move_to_end(study_id)
            return entry[2]

    def put(self, study_id: int, created_at: datetime, version: int, body: bytes) -> None:
        with self._lock:
            entry = self._bodies.get(study_id)
            if entry is not None and entry[0] == created_at and entry[1] > version:
                return  # a slower request read an older version: keep the newer
            self._bodies[study_id] = (created_at, version, body)
            self._bodies.move_to_end(study_id)
            while len(self._bodies) > self.max_studies:
                self._bodies.popitem(last=False)


def front_head(session: Session, study_id: int) -> Any:
    """``(owner_key_id, created_at, pareto_version)`` of a study: what a cached front needs,
    without loading the study's definition.

    Raises:
        NotFoundError: no study with that id.
    """
    head = session.execute(
        select(Study.owner_key_id, Study.created_at, Study.pareto_version)
        .where(Study.id == study_id)
    ).first()
    if head is None:
        raise NotFoundError(f"No study with id {study_id}.")
    return head


def front_json(session: Session, study_id: int, bodies: FrontBodies) -> tuple[int, bytes]:
    """The study's evaluated front (:func:`pareto_front`) as the JSON body of ``GET
    /pareto``, and its version; stored in ``bodies`` when the version did not move while the
    points were read (re-read up to :data:`FRONT_READ_TRIES` times), so a cached body never
    mixes two versions.

    Raises:
        NotFoundError: no study with that id.
    """
    for _ in range(FRONT_READ_TRIES):
        study = session.get(Study, study_id, populate_existing=True)
        if study is None:
            raise NotFoundError(f"No study with id {study_id}.")
        body = pareto_front(session, study).model_dump_json().encode()
        now = session.scalar(select(Study.pareto_version).where(Study.id == study_id))
        if now == study.pareto_version:
            bodies.put(study_id, study.created_at, study.pareto_version, body)
            break
    return study.pareto_version, body
