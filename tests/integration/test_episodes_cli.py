"""`rfx episodes list|show|watch` as a user runs them: subprocesses talking HTTP to the real server
(uvicorn on loopback, real Redis, a worker with the Docker judge, the fake LLM)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from reflexion_client import AsyncClient

from app.llm.fake_script import Reply, Rule
from app.llm.fake_server import FakeLLMServer
from tests.fixtures.services import free_port
from tests.integration.test_client import (
    API_KEY,
    TASK_JSON,
    script_wrong_then_right,
    service_with_worker,
    settings_for,
)
from tests.integration.test_episode_engine import LESSON, RETRY, RIGHT, WRONG


async def rfx(*args: str, url: str, key: str | None = API_KEY) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RFX_")}
    env |= {"RFX_URL": url, "COLUMNS": "200"} | ({"RFX_API_KEY": key} if key else {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "episodes",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


def one_line_error(code: int, out: str, err: str, expected_code: int, fragment: str) -> None:
    assert code == expected_code, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rfx: error: ") and fragment in lines[0], err


@pytest.fixture
async def service(
    redis_url: str, key_prefix: str, fake_llm: FakeLLMServer, judge_factory: Callable[..., Any]
) -> AsyncIterator[str]:
    script_wrong_then_right(fake_llm)
    judge = await judge_factory(mode="pooled")
    async with service_with_worker(settings_for(redis_url, key_prefix, fake_llm), judge) as base:
        yield base


async def test_list_and_show_a_finished_episode(service: str) -> None:
    async with AsyncClient(service, api_key=API_KEY) as client:
        episode = await client.submit(TASK_JSON)
        await client.wait(episode.id, timeout=120)

    code, out, err = await rfx("list", url=service)
    assert code == 0, err
    row = next(line for line in out.splitlines() if episode.id in line)
    assert "demo/add" in row and "succeeded" in row and "solved" in row

    code, out, err = await rfx("show", episode.id, url=service)
    assert code == 0, err
    assert "succeeded" in out and "stop: solved" in out and "final answer: trial 2" in out
    assert "failed 0/1" in out and "passed 2/2" in out  # trial 1 feedback, trial 2 hidden tests
    assert LESSON.split(";")[0] in out.replace("\n", " ").replace("│", " ").replace("  ", " ")

    code, out, err = await rfx("show", episode.id, "--json", url=service)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["id"] == episode.id and shown["final_trial"] == 2
    code, out, _ = await rfx("list", "--status", "failed", "--json", url=service)
    assert code == 0 and json.loads(out) == []


async def test_watch_follows_live_to_the_end(service: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        Rule(model="fake-actor", pattern=RETRY, replies=[Reply(text=RIGHT, latency_s=1.0)]),
        Rule(model="fake-actor", pattern="failed its tests", replies=[Reply(text=LESSON)]),
        Rule(model="fake-actor", replies=[Reply(text=WRONG, latency_s=1.0)]),
    )
    async with AsyncClient(service, api_key=API_KEY) as client:
        episode = await client.submit(TASK_JSON)
    code, out, err = await rfx("watch", episode.id, url=service)
    assert code == 0, err
    steps = [line.split(" ", 1)[1] for line in err.splitlines() if line[:2].isdigit()]
    assert steps[0] == "started"
    assert "trial 1 judged: feedback failed, hidden failed" in steps
    assert any(s.startswith("trial 1 lesson: ") for s in steps)
    assert "trial 2 judged: feedback passed, hidden passed" in steps
    assert steps[-1] == "finished: succeeded solved"
    assert out.strip().startswith(f"{episode.id} succeeded solved")


async def test_watch_exits_1_when_the_episode_fails(service: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(model="fake-actor", replies=[Reply(text=WRONG)]))
    async with AsyncClient(service, api_key=API_KEY) as client:
        episode = await client.submit({**TASK_JSON, "id": "always/wrong"}, config={"max_trials": 1})
    code, out, err = await rfx("watch", episode.id, url=service)
    assert code == 1, err
    assert "finished: failed max_trials" in err and "failed" in out


async def test_errors_are_one_line(service: str) -> None:
    one_line_error(*await rfx("show", "ep_missing", url=service), 1, "404")
    one_line_error(*await rfx("list", url=service, key="not-a-key"), 1, "401")
    one_line_error(*await rfx("list", "--status", "bogus", url=service), 2, "422")
    nobody = f"http://127.0.0.1:{free_port()}"
    one_line_error(*await rfx("watch", "ep_x", url=nobody), 3, "cannot reach the server")
