"""The storage contract of leases, results and the reaper, one suite run on every backend.

Each test of :class:`TestStorageContract` runs once per database backend: the ``database``
fixture is built on ``db_url``, parametrized in ``tests/conftest.py`` over SQLite and PostgreSQL
(the latter when ``XBAR_TEST_POSTGRES_URL`` is set), in the manner of Optuna's storage
conformance suite. A backend passes when every test passes on it.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from app.core.db import Database
from app.models import Study, StudyState, Trial, TrialResult, TrialState, utcnow
from app.services import leases, lifecycle
from tests.app.helpers import add_trial, claim, new_study

VALUES = {"f0": 1.0, "f1": 2.0}


def _trial(db: Database, trial_id: int) -> Trial:
    with db.session() as s:
        return s.get(Trial, trial_id)


class TestStorageContract:
    """Leases are exclusive, results are recorded once, expired leases are reaped boundedly."""

    # -- study ownership ------------------------------------------------------------------
    def test_study_lease_is_exclusive_until_it_expires(self, database: Database) -> None:
        """A driver that owns a study keeps it from others until its lease expires; then the
        next claimer takes it over and the first owner no longer holds it."""
        sid = new_study(database)
        now = utcnow()
        with database.session() as s:
            assert leases.claim_studies(s, "a", now, 10.0) == [sid]
        with database.session() as s:
            assert leases.claim_studies(s, "b", now + timedelta(seconds=5), 10.0) == []
        with database.session() as s:
            assert leases.claim_studies(s, "a", now + timedelta(seconds=5), 10.0) == [sid]
        later = now + timedelta(seconds=16)  # a's renewed lease ended at now + 15 s
        with database.session() as s:
            assert leases.claim_studies(s, "b", later, 10.0) == [sid]
        with database.session() as s:
            assert leases.claim_studies(s, "a", later, 10.0) == []
            study = s.get(Study, sid)
            assert study.driver_id == "b"
            assert study.driver_lease_expires_at == later + timedelta(seconds=10)

    def test_release_hands_studies_back_at_once(self, database: Database) -> None:
        """Released studies are free for another driver before their lease would expire; only
        the releasing driver's studies are released."""
        first, second = new_study(database), new_study(database)
        now = utcnow()
        with database.session() as s:
            assert leases.claim_studies(s, "a", now, 60.0) == [first, second]
            s.get(Study, second).driver_id = "c"
        with database.session() as s:
            assert leases.release_studies(s, "a") == 1
        with database.session() as s:
            assert leases.claim_studies(s, "b", now, 60.0) == [first]

    def test_final_studies_are_not_claimed(self, database: Database) -> None:
        """Only created, running and paused studies are claimed."""
        done, paused = new_study(database), new_study(database)
        with database.session() as s:
            lifecycle.transition_study(s, s.get(Study, done), StudyState.CANCELLED)
            lifecycle.transition_study(s, s.get(Study, paused), StudyState.PAUSED)
        with database.session() as s:
            assert leases.claim_studies(s, "a", utcnow(), 10.0) == [paused]

    # -- trial leases ---------------------------------------------------------------------
    def test_claim_is_exclusive(self, database: Database) -> None:
        """Two claims of one queued trial: the first wins, the second (from a stale view of
        the row) gets None and changes nothing."""
        tid = add_trial(database, new_study(database))
        token = claim(database, tid)
        with database.session() as s:
            stale = s.get(Trial, tid)
            stale.state = TrialState.QUEUED
            s.expunge(stale)
            assert leases.claim_trial(s, stale, "other", 30) is None
        t = _trial(database, tid)
        assert (t.state, t.lease_token, t.worker) == (TrialState.RUNNING, token, "w")

    def test_concurrent_claims_have_one_winner(self, database: Database) -> None:
        """Eight claimers on separate connections race for one trial: exactly one token."""
        tid = add_trial(database, new_study(database))
        row = _trial(database, tid)
        start = threading.Barrier(8)
        tokens: list[str | None] = []
        lock = threading.Lock()

        def claimer(i: int) -> None:
            start.wait()
            with database.session() as s:
                token = leases.claim_trial(s, row, f"w{i}", 30.0)
            with lock:
                tokens.append(token)

        threads = [threading.Thread(target=claimer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        won = [t for t in tokens if t is not None]
        assert len(tokens) == 8 and len(won) == 1
        assert _trial(database, tid).lease_token == won[0]

    def test_renew_extends_only_matching_leases(self, database: Database) -> None:
        """A heartbeat extends the lease of a trial whose token matches and skips one whose
        token is stale."""
        sid = new_study(database)
        mine, theirs = add_trial(database, sid), add_trial(database, sid)
        token = claim(database, mine, lease_s=1.0)
        claim(database, theirs, lease_s=1.0)
        before = _trial(database, theirs).lease_expires_at
        with database.session() as s:
            assert leases.renew_leases(s, {mine: token, theirs: "stale"}, 60.0) == 1
        renewed = _trial(database, mine)
        assert renewed.lease_expires_at - renewed.heartbeat_at == timedelta(seconds=60)
        assert _trial(database, theirs).lease_expires_at == before

    # -- results --------------------------------------------------------------------------
    def test_record_is_idempotent(self, database: Database) -> None:
        """The same token recorded twice stores one result and counts one completion."""
        sid = new_study(database)
        tid = add_trial(database, sid)
        tok = claim(database, tid)
        with database.session() as s:
            first = lifecycle.record_result(s, tid, tok, VALUES, 0.5, {}, worker="w9")
        with database.session() as s:
            again = lifecycle.record_result(s, tid, tok, VALUES, 0.5, {})
        assert first == lifecycle.Recorded(tid, duplicate=False, on_front=True)
        assert again == lifecycle.Recorded(tid, duplicate=True, on_front=True)
        with database.session() as s:
            assert s.scalar(select(func.count()).select_from(TrialResult)) == 1
            study = s.get(Study, sid)
            assert (study.n_completed, study.total_cost_s) == (1, 0.5)
            assert s.get(Trial, tid).worker == "w9"

    def test_stale_token_loses(self, database: Database) -> None:
        """After a lease expires and the trial is re-queued and re-claimed, the old token's
        result is refused (None, nothing written), before and after the new token's result."""
        sid = new_study(database)
        tid = add_trial(database, sid)
        old = claim(database, tid, lease_s=0.0)
        with database.session() as s:
            assert leases.requeue_expired(s, utcnow() + timedelta(seconds=1), 3) == 1
        t = _trial(database, tid)
        assert (t.state, t.attempt, t.lease_token) == (TrialState.QUEUED, 1, None)
        new = claim(database, tid)
        with database.session() as s:
            assert lifecycle.record_result(s, tid, old, {"f0": 1.0, "f1": 1.0}, 1.0, {}) is None
        with database.session() as s:
            assert lifecycle.record_result(s, tid, new, {"f0": 1.0, "f1": 1.0}, 1.0, {})
        with database.session() as s:
            assert lifecycle.record_result(s, tid, old, {"f0": 9.0, "f1": 9.0}, 1.0, {}) is None
        with database.session() as s:
            r = s.scalar(select(TrialResult))
            assert (r.lease_token, r.attempt, r.values) == (new, 1, {"f0": 1.0, "f1": 1.0})
            assert s.get(Study, sid).n_completed == 1

    # -- the reaper -----------------------------------------------------------------------
    def test_requeue_takes_only_expired_leases(self, database: Database) -> None:
        """The reaper moves running trials whose lease ended, not live or queued ones."""
        sid = new_study(database)
        expired, live, queued = (add_trial(database, sid) for _ in range(3))
        claim(database, expired, lease_s=0.0)
        claim(database, live, lease_s=60.0)
        with database.session() as s:
            assert leases.requeue_expired(s, utcnow() + timedelta(seconds=1), 3) == 1
        states = [_trial(database, t).state for t in (expired, live, queued)]
        assert states == [TrialState.QUEUED, TrialState.RUNNING, TrialState.QUEUED]
        assert _trial(database, expired).error == leases.REQUEUE_REASON

    def test_attempts_are_bounded(self, database: Database) -> None:
        """A trial whose lease keeps expiring fails after max_attempts with the reason."""
        sid = new_study(database)
        tid = add_trial(database, sid)
        for _ in range(3):
            claim(database, tid, lease_s=0.0)
            with database.session() as s:
                assert leases.requeue_expired(s, utcnow() + timedelta(seconds=1),
                                              max_attempts=3) == 1
        t = _trial(database, tid)
        assert (t.state, t.attempt, t.error) == (TrialState.FAILED, 2, leases.REQUEUE_REASON)
        with database.session() as s:
            assert s.get(Study, sid).n_failed == 1

    def test_final_states_never_change(self, database: Database) -> None:
        """A completed trial cannot be failed or re-queued; a failed one cannot complete."""
        sid = new_study(database)
        done = add_trial(database, sid)
        tok = claim(database, done)
        with database.session() as s:
            assert lifecycle.record_result(s, done, tok, {"f0": 1.0, "f1": 1.0}, 1.0, {})
        with database.session() as s:
            assert lifecycle.fail_attempt(s, done, tok, "x", retryable=True,
                                          max_attempts=3) is None
        assert _trial(database, done).state == TrialState.COMPLETED
        bad = add_trial(database, sid)
        tok2 = claim(database, bad)
        with database.session() as s:
            assert lifecycle.fail_attempt(s, bad, tok2, "boom", retryable=False,
                                          max_attempts=3) == TrialState.FAILED
        with database.session() as s:
            assert lifecycle.record_result(s, bad, tok2, {"f0": 1.0, "f1": 1.0}, 1.0, {}) is None
        assert _trial(database, bad).state == TrialState.FAILED
