"""What routes depend on: the process's services (built once in the lifespan) and the caller's tenant.

`Annotated` dependencies keep each route's signature a readable list of what it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Protocol

import redis.asyncio as aredis
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.auth import ApiKeys
from app.api.judge_gate import JudgeGate
from app.memory.episodes import EpisodeStore
from app.memory.keys import Keys
from app.memory.redis_memory import RedisMemory
from app.reflexion.models import EpisodeConfig, Verdict
from app.settings import Settings


class ModelCatalog(Protocol):
    """Resolves a requested model name (None: the server's default) to a configured model's name."""

    def actor(self, name: str | None) -> str: ...

    def reflector(self, name: str | None) -> str: ...

    def choose(
        self, actor: str | None, reflector: str | None, config: EpisodeConfig
    ) -> tuple[str, str, EpisodeConfig]:
        """(actor, reflector, config) with the actor's defaults for what the request left unset."""
        ...

    def names(self) -> list[str]: ...


@dataclass
class Services:
    settings: Settings
    redis: aredis.Redis
    keys: Keys
    store: EpisodeStore
    api_keys: ApiKeys
    models: ModelCatalog
    memory: RedisMemory
    judge_gate: JudgeGate
    observe_judge: Callable[[Verdict], None]  # /metrics' judge latency (app/api/metrics.py)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """Async on purpose: FastAPI runs plain `def` dependencies in a thread pool, a hop per request."""
    return services_of(request)


bearer = HTTPBearer(auto_error=False, description="API key of a tenant (RFX_API_KEYS)")


async def get_tenant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    services = services_of(request)
    header = request.headers.get("authorization")
    return services.api_keys.tenant_for(header if credentials is not None or header else None)


ServicesDep = Annotated[Services, Depends(get_services)]
TenantDep = Annotated[str, Depends(get_tenant)]
