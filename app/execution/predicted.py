"""In-process cache of predicted fronts: ``GET /studies/{id}/pareto?source=predicted`` never
fits a model on the API's threads.

A study's predicted front depends on its completed trials only, so it is keyed by
``(study id, n_completed)``. The first request for a key submits
``confirm.predicted_front_task`` to the server's Dask engine and answers *computing* (the route:
202); later requests answer from the finished future (200) until a new result completes a
trial and changes the key. Only the newest key of each study is kept, and at most
``MAX_STUDIES`` studies (oldest dropped first). A failed computation is reported once and
forgotten, so the next request tries again.

The cache lives in the API process that runs the driver (``app.state.engine``); a server
started without the driver has no engine and answers 503.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from distributed import Future
from sqlalchemy.orm import Session

from app.core.errors import XbarError
from app.execution.confirm import predicted_front_task
from app.models import Study
from app.services import trials

MAX_STUDIES = 256
"""Studies whose newest predicted front is kept."""


class PredictionFailed(XbarError):
    """The predicted front could not be computed (the optimizer raised on the worker)."""

    status, title, type_ = 503, "Prediction failed", "/problems/prediction-failed"


class NoEngine(XbarError):
    """The server runs no Dask engine to compute a predicted front on."""

    status, title, type_ = 503, "No engine", "/problems/no-engine"


@dataclass
class Prediction:
    """A cache answer: ``result`` is ``predicted_front_task``'s dict, ``None`` while computing.

    Attributes:
        n_observations: The completed trials the front is (being) computed from.
        result: ``{"n_observations", "points", "compute_s"}``, or ``None``.
    """

    n_observations: int
    result: dict[str, Any] | None


class PredictedFronts:
    """The cache (module docstring); thread-safe (routes run in a thread pool)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[int, Future]] = OrderedDict()
        """Study id -> (n_completed, future of ``predicted_front_task``)."""

    def lookup(self, session: Session, study: Study) -> Prediction:
        """The study's predicted front for its current completed trials, submitting the
        computation when it has not been.

        Raises:
            PredictionFailed: the computation raised (forgotten: the next call retries).
        """
        key = study.n_completed
        with self._lock:
            entry = self._entries.get(study.id)
            if entry is None or entry[0] != key:
                observations, _ = trials.history(session, study.id)
                future = self.engine.submit(predicted_front_task, study.search_space,
                                            study.objectives, observations, study.seed)
                entry = (key, future)
                self._entries[study.id] = entry
                self._entries.move_to_end(study.id)
                while len(self._entries) > MAX_STUDIES:
                    self._entries.popitem(last=False)
        _, future = entry
        if not future.done():
            return Prediction(key, None)
        if future.status != "finished":
            with self._lock:
                if self._entries.get(study.id) is entry:
                    del self._entries[study.id]
            error = future.exception() if future.status == "error" else None
            reason = f"{type(error).__name__}: {error}" if error else future.status
            raise PredictionFailed(f"The predicted front of study {study.id} could not be "
                                   f"computed ({reason})."[:2000])
        return Prediction(key, future.result())


_INIT = threading.Lock()


def predicted_fronts(state: Any) -> PredictedFronts:
    """The app's cache (``state``: ``app.state``), made on first use.

    Raises:
        NoEngine: the app runs no driver, hence no engine.
    """
    cache = getattr(state, "predicted_fronts", None)
    if cache is not None:
        return cache
    engine = getattr(state, "engine", None)
    if engine is None:
        raise NoEngine("This server runs no study driver (XBAR_RUN_DRIVER=false), so it has "
                       "no engine to compute predicted fronts on; ask a server that does.")
    with _INIT:
        cache = getattr(state, "predicted_fronts", None)
        if cache is None:
            cache = PredictedFronts(engine)
            state.predicted_fronts = cache
    return cache


__all__ = ["MAX_STUDIES", "NoEngine", "Prediction", "PredictedFronts", "PredictionFailed",
           "predicted_fronts"]
