"""File workload bytes for the workers: read on the server side, scattered once per study.

A study naming an upload or an operator workload holds only the blobs' sha256s in its
evaluator spec (``workload_files``, :class:`app.problems.workloads.WorkloadFiles`). The driver
reads the two blobs (uploads: ``workload_blobs`` through its own database session; operator
workloads: the files ``XBAR_WORKLOADS_FILE`` names, on the server), checks them against the
digests, and scatters them to the cluster once per study
(``client.scatter(..., broadcast=False)``: one worker holds them, others fetch them from it
when a task needs them and keep a copy while the driver holds the futures). Every trial's
task takes the two futures as arguments, so a worker gets the bytes with its task and never
holds database credentials or reads a path; it checks the digests again and caches the built
workload (:func:`app.execution.evaluators.file_workload_of`).

Nothing here survives a restart, and nothing needs to: a new driver (or the same one after the
scheduler was lost, ``DaskEngine.generation``) reads the blobs again and scatters them anew.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import NotFoundError
from app.execution.engine import DaskEngine
from app.problems.workloads import FILES_KEY, WorkloadFiles
from app.services.workloads import blob_content

log = logging.getLogger(__name__)

__all__ = ["ContentUnavailable", "StudyContent", "read_content"]


class ContentUnavailable(Exception):
    """A study's workload bytes cannot be had (blob gone, operator file changed or missing):
    no trial of it can run, so the driver fails the study with this message."""


def read_content(session: Session, settings: Settings, name: str,
                 files: WorkloadFiles) -> tuple[bytes, bytes]:
    """The model and data bytes of file workload ``name``, checked against ``files``.

    Raises:
        ContentUnavailable: a blob is missing or corrupted, or an operator workload's entry
            or file is gone or no longer holds the bytes the study was created with.
    """
    if files.source == "uploaded":
        try:
            return (blob_content(session, files.model_sha256),
                    blob_content(session, files.data_sha256))
        except (NotFoundError, ValueError) as e:
            raise ContentUnavailable(f"workload {name!r}: {e}") from None
    try:
        entry = settings.operator_workloads().get(name)
    except ValueError as e:
        raise ContentUnavailable(str(e)) from None
    if entry is None:
        raise ContentUnavailable(f"operator workload {name!r} is no longer in "
                                 "XBAR_WORKLOADS_FILE")
    out = []
    for what, path, digest in (("model", entry.model_path, files.model_sha256),
                               ("data", entry.data_path, files.data_sha256)):
        try:
            content = path.read_bytes()
        except OSError as e:
            raise ContentUnavailable(f"operator workload {name!r}: cannot read its {what} "
                                     f"file: {e.strerror}") from None
        if hashlib.sha256(content).hexdigest() != digest:
            raise ContentUnavailable(f"operator workload {name!r}: its {what} file changed "
                                     "since the study was created (sha256 differs)")
        out.append(content)
    return out[0], out[1]


class StudyContent:
    """The scattered blobs of each driven study that uses a file workload."""

    def __init__(self, engine: DaskEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._held: dict[int, tuple[int, tuple[Any, ...]]] = {}
        """Study id -> (engine generation, the two futures)."""
        self.scatters = 0
        """Scatter calls made (one per study, plus one after each scheduler loss)."""

    def args(self, session: Session, study_id: int, evaluator: dict[str, Any]) -> tuple[Any, ...]:
        """Extra ``evaluate_task`` arguments for a trial of study ``study_id``: ``()`` for a
        built-in workload, else the futures of the model and data bytes (scattered on the
        first call, and again after the scheduler was lost or a future lost its data).

        Raises:
            ContentUnavailable: as :func:`read_content`; ValueError: a bad stored spec.
        """
        spec = evaluator.get(FILES_KEY)
        if spec is None:
            return ()
        held = self._held.get(study_id)
        if held is not None and held[0] == self.engine.generation \
                and all(f.status == "finished" for f in held[1]):
            return held[1]
        files = WorkloadFiles.from_spec(spec)
        model, data = read_content(session, self.settings, evaluator["workload"], files)
        futures = tuple(self.engine.client.scatter([model, data], broadcast=False))
        self.scatters += 1
        log.info("study %s: scattered workload %r (%d + %d bytes)", study_id,
                 evaluator["workload"], len(model), len(data))
        self._held[study_id] = (self.engine.generation, futures)
        return futures

    def forget(self, study_id: int) -> None:
        """Release a study's futures (the cluster may drop the bytes)."""
        self._held.pop(study_id, None)
