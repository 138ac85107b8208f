"""The MCP server, driven by the official `mcp` SDK client against `rfx serve --with-worker`.

The same scenario runs over streamable HTTP (`/mcp` with a Bearer key) and over stdio (`rfx mcp
--url ... --api-key ...` started by the client): list the tools, call each, progress per trial, a
cancellation, tool errors with the HTTP API's own detail, a wrong key, and a second tenant that sees
nothing of the first's. `rfx mcp` without a URL runs the episode in its own process.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import httpx2
import pytest
import redis
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from app.api.schemas import JudgeRequest
from tests.integration.apiserver import BAD, GOOD, LESSON, script_fail_then_fix, task_body
from tests.integration.served import (
    KEYS,
    Served,
    served_fixture,  # noqa: F401 - the module's server
    wait_status,
)

RFX = str(Path(sys.executable).with_name("rfx"))


def lessons_uri(task_id: str) -> str:
    """The documented resource form: lessons:// + the task id, URL-encoded (HumanEval%2F10)."""
    return "lessons://" + quote(task_id, safe="")


TOOLS = {"judge", "run_episode", "get_episode", "list_episodes", "cancel_episode"}
TRANSPORTS = ["http", "stdio"]


@asynccontextmanager
async def connect(served: Served, transport: str, key: str) -> AsyncIterator[Client]:
    if transport == "http":
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60)
        async with http, Client(streamable_http_client(f"{served.url}/mcp", http_client=http)) as client:
            yield client
    else:
        env = {**served.env, "RFX_URL": served.url, "RFX_API_KEY": key}
        async with Client(StdioServerParameters(command=RFX, args=["mcp"], env=env)) as client:
            yield client


def http_detail(served: Served, tenant: str, method: str, path: str, **kw: Any) -> str:
    response = httpx.request(method, f"{served.url}{path}", headers=served.headers(tenant), timeout=30, **kw)
    assert response.status_code >= 400
    return str(response.json()["detail"])


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tools_progress_resources_and_errors(served: Served, fake_llm: Any, transport: str) -> None:
    script_fail_then_fix(fake_llm)
    task_id = f"demo/{transport}-{uuid.uuid4().hex[:6]}"
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with connect(served, transport, KEYS["alice"]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        assert tools["judge"].input_schema == JudgeRequest.model_json_schema()
        assert {"task", "humaneval", "max_trials", "strategy"} <= set(
            tools["run_episode"].input_schema["properties"]
        )

        verdict = await client.call_tool(
            "judge",
            {"code": GOOD.split("\n", 1)[1].rsplit("```", 1)[0], "asserts": ["assert add(2, 2) == 4"]},
        )
        assert not verdict.is_error and verdict.structured_content["status"] == "passed"
        assert verdict.structured_content["tests"][0]["passed"] is True

        body = task_body(task_id)
        done = await client.call_tool(
            "run_episode", {"task": body["task"], "max_trials": 3}, progress_callback=on_progress
        )
        summary = done.structured_content
        assert not done.is_error and summary["status"] == "succeeded" and summary["stop_reason"] == "solved"
        assert summary["final_code"].strip() == "def add(a, b):\n    return a + b"
        assert [a["verdict"] for a in summary["attempts"]] == ["failed", "passed"]
        assert [(p[0], p[1]) for p in progress] == [(1.0, 3.0), (2.0, 3.0)]
        assert progress[0][2] == f"{summary['episode_id']} trial 1: failed 0/1 tests"
        episode_id = summary["episode_id"]

        record = (await client.call_tool("get_episode", {"episode_id": episode_id})).structured_content
        assert record["id"] == episode_id and record["tenant"] == "alice" and len(record["attempts"]) == 2
        listed = (await client.call_tool("list_episodes", {"limit": 200})).structured_content
        assert episode_id in [e["episode_id"] for e in listed["episodes"]]
        again = await client.call_tool("cancel_episode", {"episode_id": episode_id})
        assert again.structured_content["status"] == "succeeded"  # idempotent: a finished one stays so

        read = await client.read_resource(f"episode://{episode_id}")
        assert '"status":"succeeded"' in read.contents[0].text
        lessons = await client.read_resource(lessons_uri(task_id))
        assert task_id.replace("/", "%2F") in lessons_uri(task_id) and LESSON in lessons.contents[0].text
        listed_resources = (await client.list_resources()).resources
        assert f"episode://{episode_id}" in [str(r.uri) for r in listed_resources]

        # errors are tool errors with the HTTP API's one-line detail, and the session lives on
        missing = await client.call_tool("get_episode", {"episode_id": "ep_00000000000000000000"})
        assert missing.is_error
        assert text_of(missing) == http_detail(served, "alice", "GET", "/v1/episodes/ep_00000000000000000000")
        bad = {"code": "x = 1", "asserts": ["assert x == 1"], "limits": {"timeout_s": -1}}
        invalid = await client.call_tool("judge", bad)
        assert invalid.is_error and text_of(invalid) == http_detail(
            served, "alice", "POST", "/v1/judge", json=bad
        )
        neither = await client.call_tool("run_episode", {"max_trials": 2})
        assert neither.is_error and "either task or humaneval" in text_of(neither)
        unknown = await client.call_tool("no_such_tool", {})
        assert unknown.is_error and "unknown tool" in text_of(unknown)
        with pytest.raises(MCPError, match="not found"):
            await client.read_resource("episode://ep_00000000000000000000")
        assert set(t.name for t in (await client.list_tools()).tools) == TOOLS

    # a second tenant sees nothing of the first's, whichever way it asks
    async with connect(served, transport, KEYS["bob"]) as bob:
        mine = (await bob.call_tool("list_episodes", {"limit": 200})).structured_content
        assert episode_id not in [e["episode_id"] for e in mine["episodes"]]
        other = await bob.call_tool("get_episode", {"episode_id": episode_id})
        assert other.is_error and text_of(other) == f"episode {episode_id!r} not found"
        cancelled = await bob.call_tool("cancel_episode", {"episode_id": episode_id})
        assert cancelled.is_error
        with pytest.raises(MCPError, match="not found"):
            await bob.read_resource(f"episode://{episode_id}")
        with pytest.raises(MCPError, match="no lessons stored"):
            await bob.read_resource(lessons_uri(task_id))
        assert f"episode://{episode_id}" not in [str(r.uri) for r in (await bob.list_resources()).resources]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_cancelling_the_call_cancels_the_episode(served: Served, fake_llm: Any, transport: str) -> None:
    fake_llm.script(
        {"pattern": "Complete the Python function", "replies": [BAD]}, default=LESSON, latency_s=3
    )
    task_id = f"slow/{transport}-{uuid.uuid4().hex[:6]}"
    async with connect(served, transport, KEYS["dave"]) as client:
        with anyio.move_on_after(60) as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "run_episode", {"task": task_body(task_id)["task"]})
                episode_id = await anyio.to_thread.run_sync(_running_episode, served, "dave", task_id)
                group.cancel_scope.cancel()  # what a client does when its user stops the call
        assert not scope.cancelled_caught
        assert (
            await anyio.to_thread.run_sync(wait_status, served, "dave", episode_id, {"cancelled"})
            == "cancelled"
        )
        # the session still serves calls after the cancellation
        assert (await client.call_tool("get_episode", {"episode_id": episode_id})).structured_content[
            "status"
        ] == "cancelled"


def _running_episode(served: Served, tenant: str, task_id: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        page = httpx.get(f"{served.url}/v1/episodes", headers=served.headers(tenant), timeout=10).json()
        found = [e for e in page["data"] if e["task"]["id"] == task_id and e["status"] == "running"]
        if found:
            return str(found[0]["id"])
        assert time.monotonic() < deadline, served.tail()
        time.sleep(0.05)


async def test_wrong_key_over_http_is_refused(served: Served) -> None:
    statuses: list[int] = []

    async def seen(response: Any) -> None:
        statuses.append(response.status_code)

    http = httpx2.AsyncClient(
        headers={"Authorization": "Bearer wrong-key-000000"}, event_hooks={"response": [seen]}
    )
    with pytest.raises(BaseExceptionGroup) as caught:
        async with http, Client(streamable_http_client(f"{served.url}/mcp", http_client=http)):
            pass
    assert caught.group_contains(MCPError)
    assert statuses and set(statuses) == {401}  # every request the SDK made was refused
    async with httpx.AsyncClient() as plain:
        response = await plain.post(
            f"{served.url}/mcp", json={}, headers={"Authorization": "Bearer wrong-key-0"}
        )
    assert response.status_code == 401 and response.json()["detail"] == "invalid API key"


def test_wrong_key_over_stdio_is_one_line_and_a_failed_exit(served: Served) -> None:
    env = {**served.env, "RFX_URL": served.url, "RFX_API_KEY": "wrong-key-000000"}
    done = subprocess.run([RFX, "mcp"], env=env, capture_output=True, text=True, timeout=60, input="")
    assert done.returncode == 1 and done.stdout == ""  # nothing on the protocol channel
    assert done.stderr.strip() == "rfx: error: invalid API key"


async def test_stdio_without_url_runs_episodes_in_process(
    served: Served, fake_llm: Any, redis_server: Any
) -> None:
    script_fail_then_fix(fake_llm)
    prefix = f"rfxtest:{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in served.env.items() if k not in ("RFX_API_KEYS", "RFX_URL", "RFX_API_KEY")}
    env["RFX_KEY_PREFIX"] = prefix
    try:
        async with Client(StdioServerParameters(command=RFX, args=["mcp"], env=env)) as client:
            done = await client.call_tool("run_episode", {"task": task_body("demo/local")["task"]})
            assert done.structured_content["status"] == "succeeded", text_of(done)
            record = await client.call_tool(
                "get_episode", {"episode_id": done.structured_content["episode_id"]}
            )
            assert record.structured_content["tenant"] == "default"
    finally:
        client_ = redis.Redis.from_url(redis_server.url)
        keys = list(client_.scan_iter(f"{prefix}:*"))
        if keys:
            client_.delete(*keys)
        client_.close()
    # nothing went to the server the HTTP tests use: its tenants never saw this episode
    async with httpx.AsyncClient(headers=served.headers("alice")) as http:
        page = (await http.get(f"{served.url}/v1/episodes", timeout=10)).json()
    assert "demo/local" not in [e["task"]["id"] for e in page["data"]]


async def test_run_episode_takes_a_humaneval_id(served: Served, fake_llm: Any) -> None:
    fake_llm.script(default="```python\ndef has_close_elements(numbers, threshold):\n    return False\n```")
    async with connect(served, "http", KEYS["carol"]) as client:
        done = await client.call_tool(
            "run_episode", {"humaneval": "HumanEval/0", "strategy": "single", "memory": "none"}
        )
        summary = done.structured_content
        record = (
            await client.call_tool("get_episode", {"episode_id": summary["episode_id"]})
        ).structured_content
        unknown = await client.call_tool("run_episode", {"humaneval": "HumanEval/999"})
    assert record["task"]["id"] == "HumanEval/0" and record["task"]["entry_point"] == "has_close_elements"
    assert record["task"]["visible_tests"]  # derived from the docstring, as `rfx run` does
    assert summary["status"] == "failed" and summary["attempts"][0]["verdict"] == "failed"
    assert unknown.is_error and "HumanEval/999" in text_of(unknown)


async def test_a_server_without_keys_serves_mcp_as_tenant_default(
    redis_server: Any, sandbox_image: str
) -> None:
    """With no RFX_API_KEYS (a loopback-only server) /mcp needs no Bearer and acts as `default`."""
    from tests.integration.apiserver import ThreadedApp, service_settings

    prefix = f"rfxtest:{uuid.uuid4().hex[:10]}"
    store = redis.Redis.from_url(redis_server.url)
    try:
        with ThreadedApp(service_settings(redis_server.url, prefix, judge_image=sandbox_image)) as app:
            async with httpx.AsyncClient(timeout=10) as api:
                posted = await api.post(f"{app.url}/v1/episodes", json=task_body())
            assert posted.status_code == 202 and posted.json()["tenant"] == "default"
            async with (
                httpx2.AsyncClient(timeout=60) as http,
                Client(streamable_http_client(f"{app.url}/mcp", http_client=http)) as client,
            ):
                assert {t.name for t in (await client.list_tools()).tools} == TOOLS
                verdict = await client.call_tool(
                    "judge",
                    {"code": "def add(a, b):\n    return a + b\n", "asserts": ["assert add(2, 2) == 4"]},
                )
                assert not verdict.is_error and verdict.structured_content["status"] == "passed"
                listed = await client.call_tool("list_episodes", {})
                assert not listed.is_error and posted.json()["id"] in text_of(listed)
    finally:
        keys = list(store.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            store.delete(*keys)
        store.close()
