"""``/studies/{id}/events``: Server-Sent Events from the events table (resumable by id)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sqlalchemy import select
from sse_starlette.sse import EventSourceResponse

from app.api.deps import MAX_ID, DatabaseDep, StudyDep
from app.api.responses import API_ERRORS, problems
from app.models import STUDY_ACTIVE, Event, Study

router = APIRouter(prefix="/studies/{study_id}", tags=["events"])

POLL_S = 0.5

EVENT_SCHEMA = {"type": "object", "required": ["id", "event", "data"],
                "properties": {"id": {"type": "string", "pattern": "^[0-9]+$"},
                               "event": {"type": "string"},
                               "data": {"type": "string", "contentMediaType": "application/json"}}}
"""One event of the stream (``itemSchema``, as Open API 3.2 and FastAPI's own SSE routes put it);
the periodic ping is a comment line, not an event."""


@router.get("/events", response_class=EventSourceResponse,
            responses={200: {"description": "An event stream: ``id``, ``event`` (the type) and "
                                            "``data`` (a JSON object) per event.",
                             "content": {"text/event-stream": {"itemSchema": EVENT_SCHEMA}}},
                       **API_ERRORS, **problems(404)})
async def events(
    study: StudyDep,
    db: DatabaseDep,
    request: Request,
    last_event_id: Annotated[str, Header(pattern=r"^[0-9]{1,10}$")] = "0",
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    follow: bool = True,
) -> EventSourceResponse:
    """Stream ``study.state``, ``trial.completed``, ``trial.failed`` ... events. Reconnecting
    clients send ``Last-Event-ID`` (or ``?after=``) and get only newer events. The stream ends
    after the study reaches a final state (or at once with ``follow=false``)."""
    # Ids never exceed MAX_ID, so a larger Last-Event-ID means "after every event".
    start = min(after if after is not None else int(last_event_id), MAX_ID)
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
