"""Liveness and readiness.

`/healthz` says only that the process answers (a restart is the cure if not). `/readyz` really asks
each dependency an episode needs: Redis (PING), the Docker engine (ping) and the sandbox image
(present locally, since no registry may be reachable), and that none of this process's background
tasks has died (the `--with-worker` worker); it answers 503 problem+json naming what is down, so a
load balancer stops sending work to an instance that cannot do it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import docker
import redis.asyncio as aredis
from docker.errors import DockerException, ImageNotFound
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.background import BackgroundTasks
from app.api.problems import problem
from app.errors import ReflexionError
from app.judge.image import sandbox_image_tag
from app.settings import Settings

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 3.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _docker_probe(settings: Settings) -> Check:
    try:
        client = docker.from_env(timeout=int(CHECK_TIMEOUT_S))
    except DockerException as exc:
        return Check("docker", False, f"docker engine unreachable: {exc}"[:300])
    try:
        client.ping()
        try:
            image = settings.judge_image or sandbox_image_tag(settings.judge_base_image, client)
        except ReflexionError as exc:
            return Check("docker", False, f"engine up, but {exc.detail}")
        try:
            client.images.get(image)
        except ImageNotFound:
            missing = f"engine up, but sandbox image {image} is missing: run 'rfx sandbox build'"
            return Check("docker", False, missing)
        return Check("docker", True, f"engine up, image {image} present")
    except DockerException as exc:
        return Check("docker", False, f"docker engine unreachable: {exc}"[:300])
    except Exception as exc:  # requests' connection errors and the like: a down engine, not a bug
        return Check("docker", False, f"docker engine unreachable: {type(exc).__name__}: {exc}"[:300])
    finally:
        client.close()


async def check_redis(client: aredis.Redis) -> Check:
    try:
        await asyncio.wait_for(client.ping(), CHECK_TIMEOUT_S)
    except (TimeoutError, aredis.RedisError, OSError) as exc:
        return Check("redis", False, f"redis is not answering PING: {type(exc).__name__}: {exc}"[:300])
    return Check("redis", True, "PONG")


async def check_docker(settings: Settings) -> Check:
    try:
        return await asyncio.wait_for(asyncio.to_thread(_docker_probe, settings), CHECK_TIMEOUT_S + 1)
    except TimeoutError:
        return Check("docker", False, "docker engine did not answer in time")


def check_background(background: BackgroundTasks) -> Check:
    """This process's own background tasks (the `--with-worker` worker): a dead one is named."""
    if not background.failures:
        return Check("background", True, "no background task has died")
    failures = background.failures.items()
    dead = "; ".join(f"background task {name!r} died: {detail}" for name, detail in failures)
    return Check("background", False, dead[:1000])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: Redis, the Docker engine and the sandbox image are usable",
    responses={503: {"description": "a dependency is down", "content": {"application/problem+json": {}}}},
)
async def readyz(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    client: aredis.Redis = request.app.state.redis
    checks = [*await asyncio.gather(check_redis(client), check_docker(settings))]
    checks.append(check_background(request.app.state.background))
    body = {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}
    down = [c for c in checks if not c.ok]
    if down:
        detail = "; ".join(c.detail for c in down)
        return problem(
            503,
            "unavailable",
            "Service unavailable",
            detail,
            instance="/readyz",
            extra={"checks": body},
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready", "checks": body})
