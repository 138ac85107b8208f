"""/healthz and /readyz over real HTTP against the real Redis fixture and the real Docker engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from app.paths import project_root
from app.settings import Settings
from tests.integration.apiserver import running_app


async def test_healthz_answers_ok(redis_url: str, key_prefix: str) -> None:
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix, judge_image="rfx-debian-python:bookworm")
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_ready_when_redis_and_docker_up(redis_url: str, key_prefix: str) -> None:
    # an image that exists on this host stands in for the sandbox image
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix, judge_image="rfx-debian-python:bookworm")
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["docker"]["ok"] is True


async def test_readyz_names_redis_when_it_is_down(key_prefix: str) -> None:
    from tests.fixtures.services import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = Settings(redis_url=dead, key_prefix=key_prefix, judge_image="rfx-debian-python:bookworm")
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert "redis" in body["detail"]
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["docker"]["ok"] is True


async def test_readyz_names_missing_sandbox_image(redis_url: str, key_prefix: str) -> None:
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix, judge_image="rfx-no-such-image:never")
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert "rfx-no-such-image:never" in body["detail"]
    assert body["checks"]["redis"]["ok"] is True


async def test_unknown_route_is_problem_json(redis_url: str, key_prefix: str) -> None:
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix, judge_image="rfx-debian-python:bookworm")
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/nope")
        r2 = await client.post("/healthz")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "/nope" in r.json()["detail"]
    assert r2.status_code == 405
    assert r2.headers["content-type"].startswith("application/problem+json")


async def test_readyz_computes_the_sandbox_tag_once_at_start_up(
    redis_url: str,
    key_prefix: str,
    sandbox_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tag is a hash of the whole sandbox/ tree: it is computed as the app starts, never per
    call. An edit under a running process changes nothing until it restarts (the old probe hashed
    the tree on every call, so here it would have named a new, missing tag)."""
    root = tmp_path / "root"
    shutil.copytree(
        project_root() / "sandbox", root / "sandbox", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "prompts").symlink_to(project_root() / "prompts")
    monkeypatch.setenv("RFX_PROJECT_ROOT", str(root))
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix)
    assert settings.judge_image is None
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        first = await client.get("/readyz")
        (root / "sandbox" / "runner.py").write_text("# edited after start-up\n")
        second = await client.get("/readyz")
    assert first.status_code == 200, first.text
    assert sandbox_image in first.json()["checks"]["docker"]["detail"]
    assert second.status_code == 200, second.text
    assert second.json()["checks"] == first.json()["checks"]
    monkeypatch.setenv("RFX_PROJECT_ROOT", str(root))
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        restarted = await client.get("/readyz")  # a new process sees the edit: a tag never built
    assert restarted.status_code == 503
    assert "is missing" in restarted.json()["detail"] and sandbox_image not in restarted.json()["detail"]
