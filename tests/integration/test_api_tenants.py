"""Bearer keys and tenant isolation over real HTTP: another tenant's things are 404, never 403."""

from __future__ import annotations

import httpx
import pytest

from app.api.auth import ApiKeys
from app.commands.serve import bind_host
from app.errors import ConfigError
from app.memory.keys import Keys
from app.memory.redis_memory import RedisMemory
from app.reflexion.models import Reflection
from tests.integration.apiserver import running_app, service_settings, task_body

KEY_A = "key-of-tenant-a-123"
KEY_B = "key-of-tenant-b-456"
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"Authorization": f"Bearer {KEY_B}"}


async def test_tenant_b_cannot_see_tenant_a(redis_url: str, key_prefix: str, aredis_client: object) -> None:
    settings = service_settings(redis_url, key_prefix, api_keys=f"alpha={KEY_A},beta={KEY_B}")
    memory = RedisMemory(aredis_client, Keys(key_prefix), episode_ttl_s=600)  # type: ignore[arg-type]
    await memory.add("alpha", Reflection(trial=1, text="check the sign", task_id="HumanEval/3"))
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        r = await client.post("/v1/episodes", json=task_body(), headers=A)
        assert r.status_code == 202
        episode_id = r.json()["id"]
        assert r.json()["tenant"] == "alpha"

        for method, path in [
            ("GET", f"/v1/episodes/{episode_id}"),
            ("POST", f"/v1/episodes/{episode_id}/cancel"),
            ("GET", f"/v1/episodes/{episode_id}/events"),
            ("DELETE", f"/v1/episodes/{episode_id}"),
            ("GET", "/v1/memory/HumanEval/3"),
            ("DELETE", "/v1/memory/HumanEval/3"),
        ]:
            other = await client.request(method, path, headers=B)
            assert other.status_code == 404, (method, path, other.text)
            assert other.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/v1/episodes", headers=B)).json()["data"] == []

        # tenant A still sees and owns all of it; B's cancel above changed nothing
        mine = await client.get(f"/v1/episodes/{episode_id}", headers=A)
        assert mine.status_code == 200 and mine.json()["status"] == "queued"
        lessons = await client.get("/v1/memory/HumanEval/3", headers=A)
        assert lessons.status_code == 200
        assert [x["text"] for x in lessons.json()["lessons"]] == ["check the sign"]

        # idempotency keys are per tenant too: the same key from B makes B's own episode
        ra = await client.post("/v1/episodes", json=task_body(), headers={**A, "Idempotency-Key": "k1"})
        rb = await client.post("/v1/episodes", json=task_body(), headers={**B, "Idempotency-Key": "k1"})
        assert ra.json()["id"] != rb.json()["id"]
        assert rb.json()["tenant"] == "beta"


async def test_missing_or_wrong_key_is_401(redis_url: str, key_prefix: str) -> None:
    settings = service_settings(redis_url, key_prefix, api_keys=f"alpha={KEY_A}")
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        for headers in ({}, {"Authorization": "Bearer nope-nope-nope"}, {"Authorization": f"Basic {KEY_A}"}):
            r = await client.get("/v1/episodes", headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert KEY_A not in r.text
        assert (await client.get("/healthz")).status_code == 200  # probes need no key
        assert (await client.get("/v1/episodes", headers=A)).status_code == 200


def test_api_keys_are_kept_hashed_and_parsed_strictly() -> None:
    keys = ApiKeys.parse(f"alpha={KEY_A}, beta={KEY_B}")
    assert keys.tenants == ["alpha", "beta"]
    assert KEY_A not in repr(keys.__dict__) and KEY_A.encode() not in repr(keys.__dict__).encode()
    assert keys.tenant_for(f"Bearer {KEY_B}") == "beta"
    for bad in ("alpha", "alpha=short", "bad tenant=0123456789", "=0123456789"):
        with pytest.raises(ConfigError):
            ApiKeys.parse(bad)


def test_without_keys_the_server_binds_loopback_only(capsys: pytest.CaptureFixture[str]) -> None:
    from app.settings import Settings

    assert bind_host(Settings(), "0.0.0.0") == "127.0.0.1"
    assert "binding to 127.0.0.1" in capsys.readouterr().err
    assert bind_host(Settings(api_keys=f"alpha={KEY_A}"), "0.0.0.0") == "0.0.0.0"  # type: ignore[arg-type]
