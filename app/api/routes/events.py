"""``/studies/{id}/events``: Server-Sent Events from the events table (resumable by id)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sqlalchemy import select
from sse_starlette.sse import EventSourceResponse

from app.api.deps import DatabaseDep, StudyDep
from app.models import STUDY_ACTIVE, Event, Study

router = APIRouter(prefix="/studies/{study_id}", tags=["events"])

POLL_S = 0.5


@router.get("/events")
async def events(
    study: StudyDep,
    db: DatabaseDep,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    follow: bool = True,
) -> EventSourceResponse:
    """Stream ``study.state``, ``trial.completed``, ``trial.failed`` ... events. Reconnecting
    clients send ``Last-Event-ID`` (or ``?after=``) and get only newer events. The stream ends
    after the study reaches a final state (or at once with ``follow=false``)."""
    start = after if after is not None else int(last_event_id or 0)
    study_id = study.id

    def fetch(since: int) -> tuple[list[Event], str | None]:
        with db.session() as s:
            rows = list(s.scalars(select(Event).where(Event.study_id == study_id, Event.id > since)
                                  .order_by(Event.id).limit(500)))
            state = s.scalar(select(Study.state).where(Study.id == study_id))
            return rows, state

    async def gen() -> AsyncIterator[dict[str, str]]:
        since = start
        while True:
            rows, state = await asyncio.to_thread(fetch, since)
            for e in rows:
                since = e.id
                yield {"id": str(e.id), "event": e.type, "data": json.dumps(e.payload)}
            if rows:
                continue
            if not follow or state not in STUDY_ACTIVE or await request.is_disconnected():
                return
            await asyncio.sleep(POLL_S)

    return EventSourceResponse(gen(), ping=15)
