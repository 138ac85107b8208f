"""`/v1/memory/{task_id}`: the caller's reflection lessons for one task (ids may contain `/`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.api.deps import Services, ServicesDep, TenantDep
from app.api.schemas import PROBLEM, MemoryCleared, MemoryView
from app.errors import InvalidInput, NotFound

router = APIRouter(prefix="/memory", tags=["memory"])

MAX_TASK_ID = 200
ERRORS: dict[int | str, dict[str, Any]] = {401: PROBLEM, 404: PROBLEM, 422: PROBLEM}


def _check(task_id: str) -> None:
    if not task_id or len(task_id) > MAX_TASK_ID:
        raise InvalidInput(f"task id must be 1-{MAX_TASK_ID} characters")


@router.get(
    "/{task_id:path}", response_model=MemoryView, responses=ERRORS, summary="The task's lessons, oldest first"
)
async def get_memory(
    task_id: str, services: ServicesDep, tenant: TenantDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> MemoryView:
    return await task_lessons(services, tenant, task_id, limit)


async def task_lessons(services: Services, tenant: str, task_id: str, limit: int = 100) -> MemoryView:
    """The route's work, also what the MCP lessons resource reads."""
    _check(task_id)
    lessons = await services.memory.task_lessons(tenant, task_id, limit)
    if not lessons:  # none, or another tenant's: both look the same
        raise NotFound(f"no lessons stored for task {task_id!r}")
    return MemoryView(task_id=task_id, lessons=lessons)


@router.delete(
    "/{task_id:path}", response_model=MemoryCleared, responses=ERRORS, summary="Forget the task's lessons"
)
async def delete_memory(task_id: str, services: ServicesDep, tenant: TenantDep) -> MemoryCleared:
    _check(task_id)
    deleted = await services.memory.clear_task(tenant, task_id)
    if not deleted:
        raise NotFound(f"no lessons stored for task {task_id!r}")
    return MemoryCleared(task_id=task_id, deleted=int(deleted))
