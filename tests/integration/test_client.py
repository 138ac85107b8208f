"""reflexion_client against the real server: uvicorn on loopback, real Redis, a queue worker with the
real Docker judge, and the project's fake LLM server over HTTP.

The scripted actor answers wrong first and right after a reflection, so every episode here has two
trials, a lesson and every event type; the assertions are on what the server really produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from reflexion_client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    Event,
    NotFound,
    TransportError,
    Unauthorized,
)

from app.llm.fake_script import Reply, Rule
from app.llm.fake_server import FakeLLMServer
from app.queue.runner import start_worker
from app.settings import Settings
from tests.fixtures.services import free_port
from tests.integration.apiserver import running_app, service_settings
from tests.integration.test_episode_engine import LESSON, RETRY, RIGHT, TASK, WRONG

API_KEY = "client-test-key-0123456789"
OTHER_KEY = "other-tenant-key-0123456789"
TASK_JSON: dict[str, Any] = TASK.model_dump(mode="json", exclude_none=True)
EVENT_TYPES = {
    "episode.started",
    "attempt.generated",
    "attempt.judged",
    "reflection.created",
    "episode.finished",
}


def script_wrong_then_right(server: FakeLLMServer, model: str = "fake-actor") -> None:
    server.script(
        Rule(model=model, pattern=RETRY, replies=[Reply(text=RIGHT)]),
        Rule(model=model, pattern="failed its tests", replies=[Reply(text=LESSON)]),
        Rule(model=model, replies=[Reply(text=WRONG)]),
    )


def settings_for(redis_url: str, key_prefix: str, fake_llm: FakeLLMServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "api_keys": f"default={API_KEY},other={OTHER_KEY}",
        "judge_mode": "fresh",
        "judge_workers": 1,
    }
    values.update(overrides)
    return service_settings(redis_url, key_prefix, fake_llm.base_url, **values)


@asynccontextmanager
async def service_with_worker(settings: Settings, judge: Any) -> AsyncIterator[str]:
    """The API on a free loopback port plus one queue worker in this event loop (the labelled judge)."""
    stop = asyncio.Event()
    async with running_app(settings) as base:
        worker = asyncio.create_task(start_worker(settings, stop, concurrency=2, judge=judge))
        try:
            yield base
        finally:
            stop.set()
            await asyncio.wait_for(worker, 60)


@pytest.fixture
async def service(
    redis_url: str, key_prefix: str, fake_llm: FakeLLMServer, judge_factory: Callable[..., Any]
) -> AsyncIterator[str]:
    script_wrong_then_right(fake_llm)
    judge = await judge_factory(mode="pooled")
    async with service_with_worker(settings_for(redis_url, key_prefix, fake_llm), judge) as base:
        yield base


def check_event_sequence(events: list[Event], episode_id: str) -> None:
    types = [e.type for e in events]
    assert types[0] == "episode.started" and types[-1] == "episode.finished"
    assert set(types) == EVENT_TYPES
    assert types.count("attempt.generated") == 2 and types.count("reflection.created") == 1
    assert all(e.episode_id == episode_id for e in events)
    ids = [tuple(int(p) for p in e.id.split("-")) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "event ids must strictly increase"


async def test_async_client_submit_stream_wait(service: str) -> None:
    async with AsyncClient(service, api_key=API_KEY) as rfx:
        queued = await rfx.submit(TASK_JSON, config={"max_trials": 3})
        assert queued.status in ("queued", "running") and queued.task.id == TASK.id
        events = [event async for event in rfx.stream_events(queued.id)]
        check_event_sequence(events, queued.id)
        done = await rfx.wait(queued.id, timeout=120)
    assert (done.status, done.stop_reason, done.final_trial) == ("succeeded", "solved", 2)
    assert [a.trial for a in done.attempts] == [1, 2]
    assert done.attempts[0].reflection == LESSON
    assert done.attempts[0].feedback is not None and done.attempts[0].feedback.status == "failed"
    assert done.attempts[1].hidden is not None and done.attempts[1].hidden.passed
    assert done.usage.total_tokens > 0
    finished = events[-1]
    assert finished.data.get("status") == "succeeded"


async def test_sync_client_submit_wait_list_and_idempotency(service: str) -> None:
    def scenario() -> tuple[Any, ...]:
        with Client(service, api_key=API_KEY) as rfx:
            first = rfx.submit(TASK_JSON, idempotency_key="same-order")
            again = rfx.submit(TASK_JSON, idempotency_key="same-order")
            with pytest.raises(Conflict) as reused:
                rfx.submit(TASK_JSON, config={"max_trials": 5}, idempotency_key="same-order")
            done = rfx.wait(first.id, timeout=120)
            listed = [e.id for e in rfx.iter_episodes(page_size=1)]
            page = rfx.list(limit=5, status="succeeded")
            return first, again, reused.value, done, listed, page

    first, again, reused, done, listed, page = await asyncio.to_thread(scenario)
    assert again.id == first.id, "the same Idempotency-Key must return the same episode"
    assert reused.status == 409 and reused.detail
    assert done.status == "succeeded" and done.final_trial == 2
    assert listed == [first.id]
    assert [e.id for e in page.data] == [first.id] and page.has_more is False


async def test_stream_resumes_after_connection_drop(service: str) -> None:
    """A relay on loopback cuts the first event stream mid-way; the client reconnects with
    Last-Event-ID and yields every event exactly once, in order."""
    async with AsyncClient(service, api_key=API_KEY) as rfx:
        episode = await rfx.submit(TASK_JSON)
        await rfx.wait(episode.id, timeout=120)
        direct = [e async for e in rfx.stream_events(episode.id)]
    relay = cutting_relay(service, cut_after=b"event: attempt.generated")
    async with relay as (relay_url, requests), AsyncClient(relay_url, api_key=API_KEY) as rfx:
        resumed = [e async for e in rfx.stream_events(episode.id)]
    assert len(requests) >= 2, "the relay should have seen a reconnection"
    assert b"last-event-id: " + direct[0].id.encode() in requests[1].lower(), requests[1]
    assert [e.id for e in resumed] == [e.id for e in direct]
    check_event_sequence(resumed, episode.id)


async def test_stream_from_last_event_id_skips_seen_events(service: str) -> None:
    async with AsyncClient(service, api_key=API_KEY) as rfx:
        episode = await rfx.submit(TASK_JSON)
        await rfx.wait(episode.id, timeout=120)
        everything = [e async for e in rfx.stream_events(episode.id)]
        rest = [e async for e in rfx.stream_events(episode.id, last_event_id=everything[1].id)]
    assert [e.id for e in rest] == [e.id for e in everything[2:]]


async def test_typed_errors_from_problem_json(service: str) -> None:
    async with AsyncClient(service, api_key=API_KEY) as rfx:
        with pytest.raises(NotFound) as missing:
            await rfx.get("ep_does_not_exist")
        assert missing.value.status == 404 and missing.value.problem["status"] == 404
        bad_task = {**TASK_JSON, "entry_point": "1-not-an-identifier"}
        with pytest.raises(BadRequest) as invalid:
            await rfx.submit(bad_task)
        assert invalid.value.status == 422 and "entry_point" in invalid.value.detail
        mine = await rfx.submit(TASK_JSON)
    async with AsyncClient(service, api_key="wrong-key") as rfx:
        with pytest.raises(Unauthorized):
            await rfx.list()
    async with AsyncClient(service, api_key=OTHER_KEY) as other:
        with pytest.raises(NotFound):
            await other.get(mine.id)  # another tenant's episode does not exist for this one
    async with AsyncClient(f"http://127.0.0.1:{free_port()}", api_key=API_KEY, retries=1) as nobody:
        with pytest.raises(TransportError):
            await nobody.get(mine.id)


async def test_cancel_and_judge(
    redis_url: str, key_prefix: str, fake_llm: FakeLLMServer, judge_factory: Callable[..., Any]
) -> None:
    fake_llm.script(Rule(model="fake-actor", replies=[Reply(text=WRONG, latency_s=20)]))
    judge = await judge_factory(mode="pooled")
    async with service_with_worker(settings_for(redis_url, key_prefix, fake_llm), judge) as base:

        def scenario() -> tuple[Any, ...]:
            with Client(base, api_key=API_KEY) as rfx:
                episode = rfx.submit(TASK_JSON)
                cancelled = rfx.cancel(episode.id)
                final = rfx.wait(episode.id, timeout=60)
                passed = rfx.judge(RIGHT.strip("`").removeprefix("python\n"), TASK.tests, entry_point="add")
                failed = rfx.judge(WRONG.strip("`").removeprefix("python\n"), TASK.tests, entry_point="add")
                return cancelled, final, passed, failed

        cancelled, final, passed, failed = await asyncio.to_thread(scenario)
    assert final.status == "cancelled" and final.stop_reason == "cancelled"
    assert cancelled.id == final.id
    assert passed.status == "passed" and passed.tests and all(t.passed for t in passed.tests)
    assert failed.status == "failed" and any(not t.passed for t in failed.tests)


def test_client_never_imports_the_service() -> None:
    code = (
        "import sys, reflexion_client\n"
        "from reflexion_client import Client, AsyncClient\n"
        "leaked = [m for m in sys.modules if m == 'app' or m.startswith('app.')]\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# ---- a loopback TCP relay that breaks the first connection (a real dropped stream) ---------------
@asynccontextmanager
async def cutting_relay(target: str, *, cut_after: bytes) -> AsyncIterator[tuple[str, list[bytes]]]:
    """Forward loopback TCP to `target`; the first connection is cut just after `cut_after` went by.

    Yields the relay's URL and the request bytes each connection sent (to check Last-Event-ID).
    """
    host, port = target.removeprefix("http://").split(":")
    requests: list[bytes] = []
    tasks: set[asyncio.Task[None]] = set()

    async def upstream_to_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cut: bool
    ) -> None:
        seen = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(256):
                writer.write(chunk)
                await writer.drain()
                seen = (seen + chunk)[-4096:]
                if cut and cut_after in seen:
                    break  # drop the connection in the middle of the stream
        writer.close()

    async def client_to_upstream(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(4096):
                requests[index] += chunk
                writer.write(chunk)
                await writer.drain()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        index = len(requests)
        requests.append(b"")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        task = asyncio.create_task(client_to_upstream(client_reader, up_writer, index))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await upstream_to_client(up_reader, client_writer, cut=index == 0)
        up_writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    relay_port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{relay_port}", requests
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
