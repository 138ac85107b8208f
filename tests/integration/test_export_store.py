"""`rfx export --episodes QUERY` reads the service's Redis episode store: terminal episodes of one tenant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aredis

from app.benchmark.episode_query import parse_query
from app.benchmark.export import SCHEMAS
from app.memory.episodes import EpisodeStore
from app.memory.keys import Keys
from app.reflexion.ids import new_episode_id
from app.reflexion.models import Attempt, Episode, EpisodeConfig, Task, Verdict
from tests.fixtures.services import free_port

RFX = str(Path(sys.executable).parent / "rfx")
TASK = Task(id="T/0", prompt="def inc(x):\n", entry_point="inc", tests="def check(c): assert c(1) == 2\n")


def attempt(trial: int, body: str, passed: bool) -> Attempt:
    return Attempt(
        trial=trial,
        code=f"def inc(x):\n    return {body}\n",
        hidden=Verdict(status="passed" if passed else "failed"),
    )


def episode(tenant: str, strategy: str, status: str, attempts: list[Attempt]) -> Episode:
    return Episode(
        id=new_episode_id(),
        tenant=tenant,
        task=TASK,
        config=EpisodeConfig(strategy=strategy),  # type: ignore[arg-type]
        status=status,
        attempts=attempts,
    )  # type: ignore[arg-type]


def export(redis_url: str, key_prefix: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RFX_REDIS_URL": redis_url, "RFX_KEY_PREFIX": key_prefix}
    return subprocess.run(
        [RFX, "export", "--out", str(out), *args], env=env, capture_output=True, text=True, timeout=60
    )


def answers(path: Path, key: str) -> list[str]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r[key][-1]["content"].split("return ")[1].split("\n")[0] for r in rows]


async def test_export_reads_terminal_episodes_of_one_tenant(
    aredis_client: aredis.Redis, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    store = EpisodeStore(aredis_client, Keys(key_prefix), ttl_s=3600)
    solved = episode("acme", "reflexion", "succeeded", [attempt(1, "x", False), attempt(2, "x + 1", True)])
    failed = episode("acme", "single", "failed", [attempt(1, "x - 1", False)])
    foreign = episode("other", "single", "succeeded", [attempt(1, "1 + x", True)])
    running = episode("acme", "single", "running", [attempt(1, "x + 1 + 0", True)])
    for ep in (solved, failed, foreign, running):
        queued = ep.model_copy(update={"status": "queued"})
        await store.create(queued, quota=100, queue_max=1000)
        if ep is not running:
            assert await store.finish(ep, token="", mode="unowned") is not None

    sft = tmp_path / "sft.jsonl"
    done = export(redis_url, key_prefix, sft, "--episodes", "all", "--tenant", "acme", "--format", "sft")
    assert done.returncode == 0, done.stderr
    assert "from 2 episodes" in done.stdout  # the running one and the other tenant's are not read
    assert answers(sft, "messages") == ["x + 1"]
    for line in sft.read_text().splitlines():
        SCHEMAS["sft"].model_validate_json(line)

    dpo = tmp_path / "dpo.jsonl"
    done = export(
        redis_url, key_prefix, dpo, "--episodes", "strategy=reflexion", "--tenant", "acme", "--format", "dpo"
    )
    assert done.returncode == 0, done.stderr
    assert (answers(dpo, "chosen"), answers(dpo, "rejected")) == (["x + 1"], ["x"])

    by_id = tmp_path / "one.jsonl"
    done = export(
        redis_url, key_prefix, by_id, "--episodes", failed.id, "--tenant", "acme", "--format", "spin"
    )
    assert done.returncode == 0 and by_id.read_text() == ""  # no reference solution for this task: no pairs

    done = export(redis_url, key_prefix, by_id, "--episodes", foreign.id, "--tenant", "acme")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "not found" in done.stderr


def test_unreachable_redis_is_a_one_line_error(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    done = export(f"redis://127.0.0.1:{free_port()}/0", "rfx", out, "--episodes", "all")
    assert done.returncode == 3 and done.stderr.count("\n") == 1 and "cannot read episodes" in done.stderr
    assert not out.exists()


def test_query_syntax() -> None:
    q = parse_query("status=succeeded, strategy=best_of_n,task=HumanEval/*,limit=5")
    assert (q.status, q.strategy, q.task, q.limit, q.ids) == ("succeeded", "best_of_n", "HumanEval/*", 5, [])
    assert parse_query("all").limit == 1000
