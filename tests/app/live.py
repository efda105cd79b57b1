"""A live service for CLI and README tests: uvicorn on 127.0.0.1 in a thread, on SQLite (the
CLI's behaviour does not depend on the backend; the storage tests cover both)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import uvicorn

from app.main import create_app
from app.migrate import upgrade
from tests.app.conftest import make_settings
from tests.app.helpers import free_port


@contextmanager
def serve(url: str, engine: Any = None, **settings: Any) -> Iterator[str]:
    """Serve the API over the migrated database ``url`` (a driver on ``engine`` unless
    ``run_driver=False``); yields the base URL, stops the server on exit."""
    app = create_app(make_settings(url, **settings), engine=engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(20)


def sqlite_url(tmp_path: Any) -> str:
    """A migrated SQLite database under ``tmp_path``."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade(url)
    return url


@contextmanager
def failing_server(status: int = 503) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering every request with ``status`` and a problem+json
    body, as a service whose database is down does; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            body = (f'{{"type": "/problems/storage", "title": "Storage unavailable", '
                    f'"status": {status}, "detail": "The database is unavailable."}}').encode()
            self.send_response(status)
            self.send_header("content-type", "application/problem+json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join(10)
