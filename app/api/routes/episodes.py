"""`/v1/episodes`: submit, read, list, delete and cancel episodes (scoped to the caller's tenant)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from app.api.deps import Services, ServicesDep, TenantDep
from app.api.schemas import PROBLEM, EpisodeCreate, EpisodePage, EpisodeStatusFilter
from app.errors import InvalidInput
from app.memory.episodes import request_fingerprint
from app.reflexion.ids import EPISODE_ID_PATTERN, new_episode_id
from app.reflexion.models import Episode, EpisodeConfig, Task

router = APIRouter(prefix="/episodes", tags=["episodes"])

IDEMPOTENCY_PATTERN = r"^[!-~]{0,200}$"  # visible ASCII; empty: none
ERRORS: dict[int | str, dict[str, Any]] = {
    401: PROBLEM,
    404: PROBLEM,
    409: PROBLEM,
    413: PROBLEM,
    422: PROBLEM,
    429: PROBLEM,
    503: PROBLEM,
}


@router.post(
    "",
    status_code=202,
    response_model=Episode,
    responses=ERRORS,
    summary="Submit an episode; it is stored and queued atomically",
)
async def create_episode(
    body: EpisodeCreate,
    services: ServicesDep,
    tenant: TenantDep,
    idempotency_key: Annotated[str, Header(max_length=200, pattern=IDEMPOTENCY_PATTERN)] = "",
) -> Response:
    episode, created = await submit(services, tenant, body, idempotency_key)
    headers = {"Location": f"/v1/episodes/{episode.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    # the record is already valid: serialize it once instead of letting FastAPI re-validate it
    return Response(
        episode.model_dump_json(), status_code=202, headers=headers, media_type="application/json"
    )


async def submit(
    services: Services, tenant: str, body: EpisodeCreate, idempotency_key: str = ""
) -> tuple[Episode, bool]:
    """Store and queue an episode (also what the MCP `run_episode` tool calls); (record, created)."""
    actor, reflector, config = services.models.choose(body.actor.model, body.reflector.model, body.config())
    return await enqueue(
        services,
        tenant,
        body.task,
        config,
        actor=actor,
        reflector=reflector,
        idempotency_key=idempotency_key,
        fingerprint=request_fingerprint(body.model_dump(mode="json")) if idempotency_key else "",
    )


async def enqueue(
    services: Services,
    tenant: str,
    task: Task,
    config: EpisodeConfig,
    *,
    actor: str,
    reflector: str,
    idempotency_key: str = "",
    fingerprint: str = "",
) -> tuple[Episode, bool]:
    """The one way a new episode is accepted (the episodes route, MCP, the chat route): refused when
    its feedback could give no signal, else stored and queued under the tenant's quota."""
    problem = config.feedback_problem(task)
    if problem is not None:
        raise InvalidInput(problem)
    episode = Episode(
        id=new_episode_id(),
        tenant=tenant,
        task=task,
        config=config,
        actor_model=actor,
        reflector_model=reflector,
    )
    episode_id, created = await services.store.create(
        episode,
        quota=services.settings.quota_episodes,
        queue_max=services.settings.queue_max,
        idempotency_key=idempotency_key or None,
        fingerprint=fingerprint,
    )
    if not created:
        episode = await services.store.get(tenant, episode_id)
    return episode, created


@router.get("", response_model=EpisodePage, responses=ERRORS, summary="List episodes, newest first")
async def list_episodes(
    services: ServicesDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[
        str | None, Query(pattern=EPISODE_ID_PATTERN, description="`next` of the previous page")
    ] = None,
    status: EpisodeStatusFilter | None = None,
) -> EpisodePage:
    page = await services.store.list_page(tenant, limit=limit, after=after, status=status)
    return EpisodePage(data=page.data, has_more=page.has_more, next=page.next)


@router.get("/{episode_id}", response_model=Episode, responses=ERRORS, summary="One episode record")
async def get_episode(episode_id: str, services: ServicesDep, tenant: TenantDep) -> Episode:
    return await services.store.get(tenant, episode_id)


@router.delete(
    "/{episode_id}", status_code=204, responses=ERRORS, summary="Delete a finished episode and its events"
)
async def delete_episode(episode_id: str, services: ServicesDep, tenant: TenantDep) -> Response:
    await services.store.delete(tenant, episode_id)
    return Response(status_code=204)


@router.post(
    "/{episode_id}/cancel",
    response_model=Episode,
    responses=ERRORS,
    summary="Cancel (idempotent): a queued episode ends now, a running one stops its attempt",
)
async def cancel_episode(episode_id: str, services: ServicesDep, tenant: TenantDep) -> Episode:
    return await services.store.request_cancel(tenant, episode_id)
