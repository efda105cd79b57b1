"""The ``/api/v1`` router."""

from fastapi import APIRouter

from app.api.routes import catalog, events, studies, trials, workloads

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(studies.router)
api_router.include_router(trials.router)
api_router.include_router(events.router)
api_router.include_router(catalog.router)
api_router.include_router(workloads.router)
