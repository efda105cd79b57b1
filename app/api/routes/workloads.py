"""Uploaded workloads: ``POST /workloads`` (multipart), ``GET``/``DELETE /workloads/{name}``.

``GET /workloads`` (built-in plus the caller's uploads) lives in ``catalog``. Uploads are owned
by the uploading key; another key's upload answers 404 like a missing one; an admin key sees
and deletes every upload.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile

from app.api.deps import CallerDep, SessionDep, SettingsDep
from app.api.responses import API_ERRORS, problems
from app.core.errors import PayloadTooLarge
from app.schemas.workload import NAME_PATTERN, WorkloadPublic
from app.services import workloads as svc

router = APIRouter(tags=["workloads"], responses=API_ERRORS)

NameDep = Annotated[str, Path(pattern=NAME_PATTERN)]
READ_CHUNK = 1 << 20
"""Bytes read from an upload at a time [bytes]."""


async def read_bounded(upload: UploadFile, limit: int, field: str) -> bytes:
    """The whole of ``upload``, read in chunks, refused past ``limit`` bytes.

    Raises:
        PayloadTooLarge: the file exceeds ``limit`` (``XBAR_MAX_UPLOAD_BYTES``).
    """
    chunks, size = [], 0
    while chunk := await upload.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The {field} file exceeds {limit} bytes "
                                  "(XBAR_MAX_UPLOAD_BYTES).")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/workloads", status_code=201, response_model=WorkloadPublic,
             responses=problems(409, 413))
async def upload_workload(
    settings: SettingsDep, session: SessionDep, caller: CallerDep,
    name: Annotated[str, Form(pattern=NAME_PATTERN)],
    model: Annotated[UploadFile, File(description="Model file (ONNX or safetensors).")],
    data: Annotated[UploadFile, File(description="Data set (.npz, no pickle).")],
    model_format: Annotated[str | None, Form(max_length=32)] = None,
    architecture: Annotated[str | None, Form(max_length=100)] = None,
) -> WorkloadPublic:
    """Upload a model and a data set as workload ``name``, validated by building it once;
    stored by content hash (nothing stored on any error)."""
    model_bytes = await read_bounded(model, settings.max_upload_bytes, "model")
    data_bytes = await read_bounded(data, settings.max_upload_bytes, "data")
    row = svc.create_workload(session, name=name, owner_key_id=caller.key_id,
                              model=model_bytes, data=data_bytes, model_format=model_format,
                              architecture=architecture,
                              operator_names=settings.operator_workloads())
    return WorkloadPublic.model_validate(row, from_attributes=True)


@router.get("/workloads/{name}", response_model=WorkloadPublic,
            responses=problems(404))
def get_workload(name: NameDep, session: SessionDep, caller: CallerDep) -> WorkloadPublic:
    """One of the caller's uploaded workloads."""
    row = svc.find_workload(session, name, caller.key_id, any_owner=not caller.scoped)
    return WorkloadPublic.model_validate(row, from_attributes=True)


@router.delete("/workloads/{name}", status_code=204,
               responses=problems(403, 404, 409))
def delete_workload(name: NameDep, session: SessionDep, caller: CallerDep) -> None:
    """Delete an uploaded workload (owner or admin); 409 while an active study names it."""
    row = svc.find_workload(session, name, caller.key_id, any_owner=not caller.scoped)
    svc.delete_workload(session, row, caller_key_id=caller.key_id,
                        is_admin=caller.is_admin or not caller.auth_on)
