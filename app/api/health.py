"""Liveness and readiness.

`/healthz` says only that the process answers (a restart is the cure if not). `/readyz` asks each
dependency an episode needs: Redis (PING) and the Docker engine, by inspecting the sandbox image
(present locally, since no registry may be reachable): one answer proves the engine is up and the
image is there; and that none of this process's background tasks has died (the `--with-worker`
worker). It answers 503 problem+json naming what is down, so a load balancer stops sending work to
an instance that cannot do it.

`/readyz` is unauthenticated, so a call must stay cheap: the image's tag (a hash of the whole
sandbox/ tree and the base image's id) is computed once per process, at start-up, and one Docker
client is kept. A sandbox/ tree edited or a base image rebuilt under a running process is seen at
its next start, which is also when the judge would pick up the new image.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import docker
import redis.asyncio as aredis
from docker.errors import DockerException, ImageNotFound
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.background import BackgroundTasks
from app.api.problems import problem
from app.errors import ReflexionError
from app.judge.image import sandbox_image_tag, sandbox_tree_digest
from app.settings import Settings

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 3.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


class DockerReadiness:
    """The Docker half of `/readyz`, built once per process (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tag: str | None = settings.judge_image
        self._tree: str | None = None
        self._tree_error = ""
        if self.tag is None:
            try:
                self._tree = sandbox_tree_digest()  # no engine needed: done as the app is built
            except ReflexionError as exc:
                self._tree_error = exc.detail
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()  # one probe at a time on the one client

    def start(self) -> None:
        """Learn the image's tag at start-up (blocking: run it in a thread). An engine that is down
        now is asked again by the first readiness call."""
        self.check()

    def check(self) -> Check:
        with self._lock:
            return self._check()

    def _check(self) -> Check:
        try:
            client = self._client or docker.from_env(timeout=int(CHECK_TIMEOUT_S))
            self._client = client
            if self.tag is None:
                if self._tree is None:
                    return Check("docker", False, f"engine not asked: {self._tree_error}")
                self.tag = sandbox_image_tag(self.settings.judge_base_image, client, self._tree)
            client.images.get(self.tag)
            return Check("docker", True, f"engine up, image {self.tag} present")
        except ImageNotFound:
            missing = f"engine up, but sandbox image {self.tag} is missing: run 'rfx sandbox build'"
            return Check("docker", False, missing)
        except ReflexionError as exc:
            return Check("docker", False, f"engine up, but {exc.detail}")
        except DockerException as exc:
            return Check("docker", False, f"docker engine unreachable: {exc}"[:300])
        except Exception as exc:  # requests' connection errors and the like: a down engine, not a bug
            return Check("docker", False, f"docker engine unreachable: {type(exc).__name__}: {exc}"[:300])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


async def check_redis(client: aredis.Redis) -> Check:
    try:
        await asyncio.wait_for(client.ping(), CHECK_TIMEOUT_S)
    except (TimeoutError, aredis.RedisError, OSError) as exc:
        return Check("redis", False, f"redis is not answering PING: {type(exc).__name__}: {exc}"[:300])
    return Check("redis", True, "PONG")


async def check_docker(readiness: DockerReadiness) -> Check:
    try:
        return await asyncio.wait_for(asyncio.to_thread(readiness.check), CHECK_TIMEOUT_S + 1)
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
    summary="Readiness: Redis answers PING and the Docker engine has the sandbox image",
    responses={503: {"description": "a dependency is down", "content": {"application/problem+json": {}}}},
)
async def readyz(request: Request) -> JSONResponse:
    """Ready when Redis answers PING, the engine answers an inspect of the sandbox image (its tag
    computed at start-up) and no background task has died; 503 problem+json naming what is not.
    Costs no hashing and no new connection to Redis; one request to the engine."""
    client: aredis.Redis = request.app.state.redis
    readiness: DockerReadiness = request.app.state.docker_readiness
    checks = [*await asyncio.gather(check_redis(client), check_docker(readiness))]
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
