"""Run the real app with uvicorn on a free loopback port inside the test's event loop.

Tests then talk to it with httpx over real HTTP, so middleware, exception handlers, streaming (SSE)
and the lifespan all run exactly as in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.fixtures.services import free_port


@asynccontextmanager
async def running_app(settings: Settings, *, with_worker: bool = False) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, with_worker=with_worker),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn exited before it started")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def service_settings(
    redis_url: str, key_prefix: str, llm_base_url: str = "http://127.0.0.1:9/v1", **overrides: object
) -> Settings:
    """Settings for a test service: the test's Redis and prefix, the fake LLM as the only model."""
    values: dict[str, object] = {
        "redis_url": redis_url,
        "key_prefix": key_prefix,
        "actor_base_url": llm_base_url,
        "actor_model": "fake-actor",
        "llm_max_retries": 0,
        "llm_timeout_s": 30,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def task_body(task_id: str = "demo/add", **options: object) -> dict[str, object]:
    """A small HumanEval-shaped task as POST /v1/episodes takes it."""
    body: dict[str, object] = {
        "task": {
            "id": task_id,
            "prompt": 'def add(a, b):\n    """Return a + b."""\n',
            "entry_point": "add",
            "tests": (
                "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n"
            ),
            "visible_tests": ["assert add(1, 2) == 3"],
        },
    }
    body.update(options)
    return body


GOOD = "```python\ndef add(a, b):\n    return a + b\n```"
BAD = "```python\ndef add(a, b):\n    return a - b\n```"
LESSON = "I subtracted where the task asks to add; return a + b."


def script_fail_then_fix(fake_llm: object, *, latency_s: float = 0.0, always_fail: bool = False) -> None:
    """Actor fails its first try and fixes it on the retry; the reflector writes one lesson."""
    fake_llm.script(  # type: ignore[attr-defined]
        {"pattern": "Your previous implementation", "replies": [BAD if always_fail else GOOD]},
        {"pattern": "Complete the Python function", "replies": [BAD]},
        default=LESSON,
        latency_s=latency_s,
    )


@asynccontextmanager
async def running_worker(settings: Settings, judge: object, concurrency: int = 4) -> AsyncIterator[None]:
    """An in-process queue worker sharing the test's (labelled) judge."""
    from app.queue.runner import start_worker

    stop = asyncio.Event()
    task = asyncio.create_task(start_worker(settings, stop, concurrency=concurrency, judge=judge))  # type: ignore[arg-type]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


@asynccontextmanager
async def serving(
    settings: Settings, judge: object, *, worker_settings: Settings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app, an in-process worker (on `worker_settings` when it must reach Redis another way) and
    a client of the app: what every end-to-end episode test stands up."""
    async with (
        running_app(settings) as base,
        running_worker(worker_settings or settings, judge),
        httpx.AsyncClient(base_url=base, timeout=60) as client,
    ):
        yield client


async def wait_terminal(client: object, episode_id: str, timeout_s: float = 60) -> dict[str, object]:
    """Poll GET until the episode is terminal (a deadline for a hang, not a performance assertion)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        r = await client.get(f"/v1/episodes/{episode_id}")  # type: ignore[attr-defined]
        body: dict[str, object] = r.json()
        if body["status"] in ("succeeded", "failed", "cancelled", "timed_out"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"episode {episode_id} still {body['status']} after {timeout_s}s")
        await asyncio.sleep(0.05)


def parse_sse(text: str) -> list[dict[str, str]]:
    """SSE frames as dicts of their fields (comments and pings dropped)."""
    frames = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = fields.get(name, "") + value.removeprefix(" ")
        if "data" in fields:
            frames.append(fields)
    return frames


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The `RFX_` environment a `rfx worker` subprocess needs to join the test's service."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("RFX_", "OPENAI_"))}
    env.update(
        {
            "RFX_REDIS_URL": settings.redis_url,
            "RFX_KEY_PREFIX": settings.key_prefix,
            "RFX_ACTOR_BASE_URL": settings.actor_base_url or "",
            "RFX_ACTOR_MODEL": settings.actor_model or "",
            "RFX_LLM_MAX_RETRIES": str(settings.llm_max_retries),
            "RFX_LLM_TIMEOUT_S": str(settings.llm_timeout_s),
            "RFX_JUDGE_IMAGE": settings.judge_image or "",
            "RFX_LEASE_S": str(settings.lease_s),
        }
    )
    env.update(extra)
    return env


def start_worker_process(env: dict[str, str], name: str, concurrency: int, log_path: str) -> Any:
    """A real `rfx worker` process (its stderr goes to `log_path` for post-mortems)."""
    import subprocess
    import sys
    from pathlib import Path

    rfx = Path(sys.executable).with_name("rfx")
    log = open(log_path, "wb")  # noqa: SIM115 - owned by the process for its lifetime
    return subprocess.Popen(
        [str(rfx), "worker", "--concurrency", str(concurrency), "--name", name],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


class ThreadedApp:
    """The app under uvicorn in a background thread, for synchronous clients (schemathesis, benchmarks)."""

    def __init__(self, settings: Settings) -> None:
        import threading

        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="error",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedApp:
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
