"""``/metrics``: Prometheus text format (request counts and latency, studies and trials by
state, driver health)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.api.deps import CallerDep
from app.models import Study, Trial

router = APIRouter(tags=["health"])


class _StateCollector(Collector):
    """Counts rows by state at scrape time (two indexed GROUP BY queries)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        db = getattr(self.app.state, "db", None)
        if db is None:
            return
        studies = GaugeMetricFamily("xbar_studies", "Studies by state", labels=["state"])
        trials = GaugeMetricFamily("xbar_trials", "Trials by state", labels=["state"])
        with db.session() as s:
            for state, n in s.execute(select(Study.state, func.count()).group_by(Study.state)):
                studies.add_metric([state], n)
            for state, n in s.execute(select(Trial.state, func.count()).group_by(Trial.state)):
                trials.add_metric([state], n)
        yield studies
        yield trials
        driver = getattr(self.app.state, "driver", None)
        if driver is not None:
            g = GaugeMetricFamily("xbar_driver_errors", "Driver loop errors since start")
            g.add_metric([], driver.errors)
            yield g
            f = GaugeMetricFamily("xbar_inflight_trials", "Evaluations this driver awaits")
            f.add_metric([], len(driver._trials))
            yield f


def install_metrics(app: FastAPI) -> None:
    """Attach a per-app registry, the request middleware and the ``/metrics`` route."""
    registry = CollectorRegistry()
    requests = Counter("xbar_http_requests", "HTTP requests", ["method", "route", "status"],
                       registry=registry)
    latency = Histogram("xbar_http_request_seconds", "HTTP request latency [s]",
                        ["method", "route"], registry=registry)
    registry.register(_StateCollector(app))
    app.state.metrics_registry = registry

    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path_format", None) or getattr(route, "path", "unmatched")
        requests.labels(request.method, path, str(response.status_code)).inc()
        latency.labels(request.method, path).observe(time.perf_counter() - t0)
        return response

    app.include_router(router)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, caller: CallerDep) -> Response:
    """Prometheus text; with ``XBAR_AUTH=on`` it needs a valid key like every API call (the
    counts span every tenant, so they are not for anonymous callers)."""
    return Response(generate_latest(request.app.state.metrics_registry),
                    media_type=CONTENT_TYPE_LATEST)
