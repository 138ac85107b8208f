"""A real `rfx serve --with-worker` process for the tests that use stock clients (openai, mcp).

One server per test module (its start costs seconds); the fake LLM is the session's, scripted per
test; four tenants with their own keys. Quotas are small on purpose, so 429 and 503 are reachable.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.fixtures.services import free_port
from tests.integration.apiserver import service_settings, worker_env

KEYS = {
    "alice": "alice-key-0001",
    "bob": "bob-key-000002",
    "carol": "carol-key-0003",
    "dave": "dave-key-00004",
}
QUOTA, QUEUE_MAX = 2, 3


@dataclass
class Served:
    url: str
    log: Path
    prefix: str
    env: dict[str, str]

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def headers(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[tenant]}"}


def start_served(
    redis_url: str, llm_url: str, image: str, log: Path, **extra: str
) -> tuple[subprocess.Popen[bytes], Served]:
    prefix = f"rfxtest:{uuid.uuid4().hex[:10]}"
    settings = service_settings(redis_url, prefix, llm_url, judge_image=image)
    env = worker_env(
        settings,
        RFX_JUDGE_WORKERS="1",
        RFX_API_KEYS=",".join(f"{t}={k}" for t, k in KEYS.items()),
        RFX_QUOTA_EPISODES=str(QUOTA),
        RFX_QUEUE_MAX=str(QUEUE_MAX),
        **extra,
    )
    port = free_port()
    rfx = Path(sys.executable).with_name("rfx")
    with log.open("wb") as out:
        args = [str(rfx), "serve", "--port", str(port), "--with-worker", "--concurrency", "4"]
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", log, prefix, env)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                return proc, served
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"rfx serve did not start: {served.tail()}")
        time.sleep(0.1)


def stop_served(proc: subprocess.Popen[bytes], served: Served, redis_url: str) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{served.prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module", name="served")
def served_fixture(
    redis_server: Any, fake_llm_session: Any, sandbox_image: str, tmp_path_factory: Any
) -> Iterator[Served]:
    log = tmp_path_factory.mktemp("served") / "serve.log"
    proc, server = start_served(redis_server.url, fake_llm_session.base_url, sandbox_image, log)
    try:
        yield server
    finally:
        stop_served(proc, server, redis_server.url)


def wait_status(served: Served, tenant: str, episode_id: str, wanted: set[str], timeout_s: float = 60) -> str:
    """Poll the episode until its status is one of `wanted` (a deadline for a hang, not a timing test)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = httpx.get(
            f"{served.url}/v1/episodes/{episode_id}", headers=served.headers(tenant), timeout=10
        ).json()["status"]
        if status in wanted:
            return str(status)
        assert time.monotonic() < deadline, f"{episode_id} still {status}: {served.tail()}"
        time.sleep(0.05)
