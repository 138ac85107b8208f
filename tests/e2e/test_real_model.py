"""One real Reflexion episode on the real local model (Qwen2.5-Coder 0.5B, temperature 0), from the CLI.

Nothing is configured but Redis: `rfx run` must fall back to the installed local model, start its
server on demand, and run the loop for real: the first attempt fails in the Docker sandbox, the
reflector writes a lesson, the lesson is stored in Redis, and a second trial is drawn with it: judged,
or, when every sampled draw repeats the first program, redrawn until the episode stops as `stuck`.
What is asserted is the structure of what happened, never the model's luck on the retry.

The task is one the 0.5B model fails at its first attempt with the project's own prompts at
temperature 0 (measured, see bench/real_model/). Should the first attempt pass one day (new prompts,
new runtime), the test fails loudly instead of passing without having exercised reflection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.llm import local_model
from app.memory.keys import Keys
from app.reflexion.models import Episode, Reflection
from tests.fixtures.services import free_port

pytestmark = [pytest.mark.model, pytest.mark.slow]

# make_palindrome: measured 2026-11-25 on a fresh server, temperature 0, the project's prompts: the
# first attempt failed its visible tests, the reflector wrote a lesson, the second attempt failed too.
# (HumanEval/0-4 and /7-8 pass at the first attempt; /5, /6, /37, /39 fail first as well.)
TASK = "humaneval:HumanEval/10"
ALIAS = "qwen2.5-coder-0.5b"


def rfx(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def local_port() -> Iterator[int]:
    """A port of the test's own for the local model server, stopped (and checked gone) afterwards."""
    assert local_model.is_installed("0.5b"), "the 0.5B local model is not installed: run `rfx model install`"
    port = free_port()
    yield port
    pid = local_model.stop(port)
    assert local_model.served_models(port) is None
    if pid is not None:
        assert not Path(f"/proc/{pid}/cmdline").exists() or not Path(f"/proc/{pid}/cmdline").read_bytes()


@pytest.mark.timeout(1800)  # three generations on a shared 2-core host; a hang still ends the test
def test_a_real_episode_fails_reflects_stores_the_lesson_and_retries(
    redis_url: str, key_prefix: str, local_port: int
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RFX_", "OPENAI_"))}
    env |= {
        "RFX_REDIS_URL": redis_url,
        "RFX_KEY_PREFIX": key_prefix,
        "RFX_LOCAL_MODEL_PORT": str(local_port),
        "RFX_JUDGE_WORKERS": "1",
        "COLUMNS": "200",
    }
    args = ["run", "--task", TASK, "--strategy", "reflexion", "--max-trials", "2", "--temperature", "0"]
    args += ["--timeout", "1700", "--json"]

    result = rfx(args, env, timeout=1750)

    assert result.returncode in (0, 1), result.stderr  # succeeded or failed: either is an honest outcome
    assert f"using the bundled local model {ALIAS} at http://127.0.0.1:{local_port}/v1" in result.stderr
    assert "local model server started" in result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert episode.actor_model == "local" and episode.reflector_model == "local"
    assert episode.config.temperature == 0

    first = episode.attempts[0]
    assert first.feedback is not None
    if first.feedback.passed:
        pytest.fail(
            f"the model passed {TASK} at its first attempt: this test needs a task it fails first "
            "(re-measure with `rfx bench humaneval --strategy single` and pick another)"
        )
    assert first.llm_outcome == "ok" and first.code.strip()
    assert first.feedback.status in ("failed", "error", "timeout")
    assert first.feedback.failing(), "a failed verdict names the failing tests"
    assert first.reflection and first.reflection.strip()

    # The lesson is in Redis under the episode's key, exactly as the reflector wrote it.
    client = redis.Redis.from_url(redis_url)
    try:
        stored = [
            Reflection.model_validate_json(raw)
            for raw in client.lrange(Keys(key_prefix).episode_lessons("default", episode.id), 0, -1)
        ]
    finally:
        client.close()
    assert [r.text for r in stored][:1] == [first.reflection]
    assert stored[0].trial == 1 and stored[0].episode_id == episode.id

    # A second trial was drawn with it: judged by the sandbox, or, when every sampled draw repeated
    # the first program (a repeat is redrawn, never judged again), the episode stopped as `stuck`.
    if episode.stop_reason == "stuck":
        assert len(episode.attempts) == 1
        assert len(episode.resamples) == episode.config.max_resamples + 1
        assert {(r.trial, r.duplicate_of) for r in episode.resamples} == {(2, 1)}
        assert len({r.seed for r in episode.resamples}) == len(episode.resamples)  # each a new draw
        assert episode.status == "failed"
        return
    assert len(episode.attempts) == 2
    second = episode.attempts[1]
    assert second.trial == 2 and second.llm_outcome == "ok"
    assert second.feedback is not None and second.feedback.status != "sandbox_error"
    assert episode.stop_reason in ("solved", "max_trials")
    assert episode.usage.completion_tokens > 0
    if second.feedback.passed:
        assert episode.stop_reason == "solved"
    print(
        json.dumps(
            {
                "task": TASK,
                "status": episode.status,
                "verdicts": [a.feedback.status for a in episode.attempts if a.feedback],
            }
        )
    )
