"""Every response carries ``X-Request-ID`` (the caller's, when it sends a sane one, else a new
one); a 500 body repeats it so an operator can find the logged traceback."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_SANE = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


def request_id(scope: Scope) -> str:
    """The id assigned to this request (set by :class:`RequestId`)."""
    return scope.get("state", {}).get("request_id", "")


class RequestId:
    """ASGI middleware: assign the request id, store it in ``scope['state']``, echo it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(HEADER, b"")
        rid = given.decode() if _SANE.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)
