"""Uploaded workloads: validate once, store by content hash, list/get/delete per owner.

Blobs live in ``workload_blobs`` keyed by sha256 (the same bytes uploaded twice, by anyone,
are stored once); ``uploaded_workloads`` rows name a model blob and a data blob per owner key.
Nothing is stored when validation fails.

A study names an upload (or an operator workload, ``XBAR_WORKLOADS_FILE``) as
``problem.workload``: :func:`study_files` is what the caller may name, and the study stores the
blobs' sha256s in its evaluator spec. Deleting an upload is refused (409) while a non-final
study of its owner names it, so a running study never loses its bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import ConflictError, ForbiddenError, NotFoundError, ValidationFailed
from app.models import STUDY_ACTIVE, Study, UploadedWorkload, WorkloadBlob
from app.problems.workloads import WorkloadFiles, analytic_tier_error
from simulator.errors import WorkloadError
from simulator.workloads.files import (
    file_workload,
    load_model,
    sniff_data_format,
    sniff_model_format,
)


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _invalid(field: str, msg: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid {field}: {msg}",
                            errors=[{"loc": ["body", field], "msg": msg, "type": "workload"}])


class UploadCheck(NamedTuple):
    """What building an upload once tells: its formats and whether the analytic tier can
    evaluate its model (:func:`app.problems.workloads.analytic_tier_error`)."""

    model_format: str
    data_format: str
    analytic_tier: bool


def validate_upload(model: bytes, data: bytes, model_format: str | None,
                    architecture: str | None) -> UploadCheck:
    """Build the workload once (:func:`simulator.workloads.files.file_workload`: model
    converted, data read without pickle, shapes and labels checked against the model).

    Raises:
        ValidationFailed: naming ``model`` (it does not load) or ``data`` (it does not load or
            does not fit the model), with the loader's message.
    """
    try:
        fmt = model_format or sniff_model_format(model)
        load_model(model, fmt, architecture)
    except WorkloadError as e:
        raise _invalid("model", str(e)) from e
    try:
        data_fmt = sniff_data_format(data)
        workload = file_workload(model, data, model_format=fmt, architecture=architecture,
                                 data_format=data_fmt)
    except WorkloadError as e:
        raise _invalid("data", str(e)) from e
    return UploadCheck(fmt, data_fmt, analytic_tier_error(workload.model) is None)


def _put_blob(session: Session, content: bytes) -> str:
    digest = sha256_hex(content)
    if session.get(WorkloadBlob, digest) is None:
        session.add(WorkloadBlob(sha256=digest, size_bytes=len(content), content=content))
        session.flush()
    return digest


def _owned(owner_key_id: int | None):
    col = UploadedWorkload.owner_key_id
    return col.is_(None) if owner_key_id is None else col == owner_key_id


def find_workload(session: Session, name: str, owner_key_id: int | None,
                  *, any_owner: bool = False) -> UploadedWorkload:
    """The upload ``name`` of ``owner_key_id`` (any owner's for an admin, ``any_owner``).

    Raises:
        NotFoundError: none (another key's upload reads the same as a missing one).
    """
    query = select(UploadedWorkload).where(UploadedWorkload.name == name)
    if not any_owner:
        query = query.where(_owned(owner_key_id))
    row = session.scalars(query.order_by(UploadedWorkload.id)).first()
    if row is None:
        raise NotFoundError(f"No uploaded workload named {name!r}.")
    return row


def create_workload(session: Session, *, name: str, owner_key_id: int | None, model: bytes,
                    data: bytes, model_format: str | None,
                    architecture: str | None,
                    operator_names: Collection[str] = ()) -> UploadedWorkload:
    """Validate, then store blobs (deduplicated by sha256) and the named row.

    Raises:
        ValidationFailed: bad model/data (nothing stored). ConflictError: the name is a
            built-in or operator workload (``operator_names``), or the owner already has an
            upload of that name.
    """
    from simulator import list_workloads

    if name in {w["name"] for w in list_workloads()}:
        raise ConflictError(f"{name!r} is a built-in workload; choose another name.")
    if name in operator_names:
        raise ConflictError(f"{name!r} is an operator workload; choose another name.")
    exists = session.scalar(select(func.count()).select_from(UploadedWorkload).where(
        UploadedWorkload.name == name, _owned(owner_key_id)))
    if exists:
        raise ConflictError(f"You already have an uploaded workload named {name!r}; delete it "
                            "first.")
    check = validate_upload(model, data, model_format, architecture)
    row = UploadedWorkload(
        name=name, owner_key_id=owner_key_id, model_sha256=_put_blob(session, model),
        data_sha256=_put_blob(session, data), model_size_bytes=len(model),
        data_size_bytes=len(data), model_format=check.model_format,
        data_format=check.data_format, architecture=architecture,
        analytic_tier=check.analytic_tier)
    session.add(row)
    session.flush()
    return row


def list_uploaded(session: Session, owner_key_id: int | None,
                  *, any_owner: bool = False) -> list[UploadedWorkload]:
    query = select(UploadedWorkload)
    if not any_owner:
        query = query.where(_owned(owner_key_id))
    return list(session.scalars(query.order_by(UploadedWorkload.name, UploadedWorkload.id)))


def delete_workload(session: Session, row: UploadedWorkload, *, caller_key_id: int | None,
                    is_admin: bool) -> None:
    """Delete an upload (its owner or an admin) and every blob no other upload names.

    Raises:
        ForbiddenError: neither owner nor admin. ConflictError: an active study names it.
    """
    if row.owner_key_id != caller_key_id and not is_admin:
        raise ForbiddenError("Only the owner or an admin key may delete this workload.")
    active = session.scalars(select(Study).where(
        Study.state.in_([s.value for s in STUDY_ACTIVE]),
        Study.owner_key_id.is_(None) if row.owner_key_id is None
        else Study.owner_key_id == row.owner_key_id)).all()
    users = [s.id for s in active
             if (s.definition.get("problem") or {}).get("workload") == row.name]
    if users:
        raise ConflictError(f"Workload {row.name!r} is used by active studies {users}; "
                            "cancel them first.")
    digests = {row.model_sha256, row.data_sha256}
    session.delete(row)
    session.flush()
    for digest in digests:
        still = session.scalar(select(func.count()).select_from(UploadedWorkload).where(
            (UploadedWorkload.model_sha256 == digest)
            | (UploadedWorkload.data_sha256 == digest)))
        if not still:
            blob = session.get(WorkloadBlob, digest)
            if blob is not None:
                session.delete(blob)
    session.flush()


def study_files(session: Session, owner_key_id: int | None,
                settings: Settings) -> dict[str, WorkloadFiles]:
    """The file workloads a study of ``owner_key_id`` may name: the operator's, then the key's
    own uploads (another key's uploads are invisible, like unknown names). Built-in names are
    resolved before these (:func:`app.problems.workloads.workload_errors`)."""
    out = {name: WorkloadFiles("operator", w.model_sha256, w.data_sha256, w.model_format,
                               w.data_format, w.architecture, analytic_tier=w.analytic_tier)
           for name, w in settings.operator_workloads().items()}
    for row in list_uploaded(session, owner_key_id):
        out.setdefault(row.name, WorkloadFiles("uploaded", row.model_sha256, row.data_sha256,
                                               row.model_format, row.data_format,
                                               row.architecture,
                                               analytic_tier=row.analytic_tier))
    return out


def blob_content(session: Session, sha256: str) -> bytes:
    """The bytes of blob ``sha256``, checked against their digest.

    Raises:
        NotFoundError: no such blob (its last upload was deleted).
        ValueError: the stored bytes do not hash to ``sha256`` (corrupted storage).
    """
    blob = session.get(WorkloadBlob, sha256)
    if blob is None:
        raise NotFoundError(f"No workload blob {sha256[:12]}... (its upload was deleted).")
    content = bytes(blob.content)
    if sha256_hex(content) != sha256:
        raise ValueError(f"workload blob {sha256[:12]}... is corrupted: its bytes hash to "
                         f"{sha256_hex(content)[:12]}...")
    return content
