"""Request limits applied before any route runs: body size, JSON nesting depth, finite numbers.

A pure ASGI middleware, so a too-large body is refused while it streams in (never buffered past
the limit) and every route (present and future) gets the same rules:

- more than ``max_body_bytes`` -> 413 problem+json;
- JSON nested deeper than ``max_json_depth`` -> 422 naming ``body``;
- ``NaN``, ``Infinity`` or ``-Infinity`` anywhere in a JSON body (Python's parser accepts them,
  JSON does not) -> 422 listing the ``loc`` of every such number.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PROBLEM_JSON, PayloadTooLarge, ValidationFailed, XbarError

Loc = list[str | int]


class BodyTooLarge(Exception):
    pass


def _problem(error: XbarError, path: str) -> tuple[int, bytes]:
    """The status and problem+json body of ``error`` (the same rendering as the app's
    exception handlers)."""
    return error.status, json.dumps(error.problem(path)).encode()


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def parse_json(text: str) -> tuple[Any, bool]:
    """``text`` parsed, and whether it holds ``NaN``/``Infinity``/``-Infinity`` (the parser's
    ``parse_constant`` hook sees each one, so a body without them is never walked for them).

    Raises:
        ValueError: malformed JSON. RecursionError: nesting past the interpreter's limit.
    """
    seen = False

    def constant(name: str) -> float:
        nonlocal seen
        seen = True
        return _NON_FINITE[name]

    return json.loads(text, parse_constant=constant), seen


def nests_deeper(value: Any, limit: int) -> bool:
    """Whether parsed JSON nests arrays/objects deeper than ``limit``: a walk level by level
    over containers only (scalars and strings are never visited)."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [v for c in level for v in (c.values() if isinstance(c, dict) else c)
                 if isinstance(v, dict | list)]
    return False


def non_finite_locs(value: Any) -> list[Loc]:
    """Paths (``["body", key, index, ...]``) of every NaN or infinite float in parsed JSON, in
    document order (iterative, so any depth is safe); run only when :func:`parse_json` saw
    one."""
    locs: list[Loc] = []
    stack: list[tuple[Any, Loc]] = [(value, ["body"])]
    while stack:
        item, loc = stack.pop()
        if isinstance(item, dict | list):
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend(reversed([(v, [*loc, k]) for k, v in pairs]))
        elif isinstance(item, float) and not math.isfinite(item):
            locs.append(loc)
    return locs


class RequestLimits:
    """ASGI middleware enforcing the limits above on every HTTP request with a body."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_json_depth: int,
                 path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.path_limits = path_limits or {}
        """Exact paths with their own body limit [bytes] (the workload upload route)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        limit = self.path_limits.get(path.rstrip("/"), self.max_body_bytes)
        try:
            if declared is not None and int(declared) > limit:
                raise BodyTooLarge
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
                more = message.get("more_body", False)
        except (BodyTooLarge, ValueError):
            await self._reply(send, *_problem(PayloadTooLarge(
                f"The body exceeds {limit} bytes (XBAR_MAX_BODY_BYTES, or "
                "XBAR_MAX_UPLOAD_BYTES per file for uploads)."), path))
            return
        raw = b"".join(chunks)
        error = self._check_json(raw, headers.get(b"content-type", b""), path)
        if error is not None:
            await self._reply(send, *error)
            return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)

    def _check_json(self, raw: bytes, content_type: bytes, path: str) -> tuple[int, bytes] | None:
        if not raw or b"json" not in content_type.lower():
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            return _problem(ValidationFailed("The body is not UTF-8 text.", errors=[
                {"loc": ["body"], "msg": f"not UTF-8 at byte {e.start}",
                 "type": "json_invalid"}]), path)
        too_deep = {"loc": ["body"], "msg": f"nesting deeper than {self.max_json_depth}",
                    "type": "json_too_deep"}
        try:
            parsed, non_finite = parse_json(text)
            deep = nests_deeper(parsed, self.max_json_depth)
        except RecursionError:
            deep, non_finite = True, False
        except ValueError:
            return None  # malformed JSON: the route's validation reports it with its position
        if deep:
            return _problem(ValidationFailed(
                f"JSON nested deeper than {self.max_json_depth} levels.", errors=[too_deep]),
                path)
        locs = non_finite_locs(parsed) if non_finite else []
        if not locs:
            return None
        errors = [{"loc": loc, "msg": "must be a finite number (NaN and Infinity are not JSON)",
                   "type": "finite_number"} for loc in locs]
        fields = ", ".join(".".join(str(p) for p in loc[1:]) or "body" for loc in locs)
        return _problem(ValidationFailed(f"Invalid field(s): {fields}", errors=errors), path)

    @staticmethod
    async def _reply(send: Send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
