"""`rfx run` as a user runs it: a subprocess, the fake LLM server over HTTP, the Docker judge, a private
Redis. Output contracts: --json puts the Episode on stdout; progress goes to stderr; errors are one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.benchmark.datasets import humaneval_task
from app.llm.fake_script import Reply, Rule
from app.llm.fake_server import FakeLLMServer
from app.reflexion.models import Episode
from tests.fixtures.services import free_port
from tests.fixtures.signals import interruptible
from tests.integration.test_episode_engine import HIDDEN, LESSON, RETRY, RIGHT, TASK, WRONG


@pytest.fixture(scope="session")
def second_llm(fake_llm_factory: Callable[[], FakeLLMServer]) -> FakeLLMServer:
    return fake_llm_factory()


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "task.json"
    path.write_text(TASK.model_dump_json())
    return path


@pytest.fixture
def env(redis_url: str, key_prefix: str, tmp_path: Path) -> dict[str, str]:
    """The environment of an `rfx` process: private Redis and key prefix, one judge worker."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RFX_", "OPENAI_"))}
    return base | {
        "RFX_REDIS_URL": redis_url,
        "RFX_KEY_PREFIX": key_prefix,
        "RFX_JUDGE_WORKERS": "1",
        "RFX_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
    }


def rfx(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rfx: error: ") and fragment in lines[0], result.stderr


def script_actor(server: FakeLLMServer, model: str = "actor-m") -> None:
    server.script(
        Rule(model=model, pattern=RETRY, replies=[RIGHT]),
        Rule(model=model, pattern="failed its tests", replies=[LESSON]),  # when it is also the reflector
        Rule(model=model, replies=[WRONG]),
    )


def test_run_prints_the_episode_as_json(
    fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    script_actor(fake_llm)
    result = rfx(
        [
            "run",
            "--task",
            str(task_file),
            "--base-url",
            fake_llm.base_url,
            "--model",
            "actor-m",
            "--api-key",
            "key-from-flag",
            "--max-trials",
            "3",
            "--json",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert {r.api_key for r in fake_llm.requests} == {"key-from-flag"}
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.status, episode.stop_reason, episode.final_trial) == ("succeeded", "solved", 2)
    raw = json.loads(result.stdout)
    for attempt in raw["attempts"]:
        assert {"code", "feedback", "hidden", "reflection", "usage"} <= set(attempt)
    assert raw["attempts"][0]["reflection"] == LESSON
    assert "trial 1" in result.stderr and "trial 2" in result.stderr and LESSON in result.stderr
    assert "succeeded" in result.stderr and "assert add(1, 1) == 2" in result.stderr
    assert not [r for r in fake_llm.requests if HIDDEN in r.text]
    models = {r.model for r in fake_llm.requests}
    assert models == {"actor-m"}  # the reflector follows the actor when not configured


def test_environment_configures_actor_and_reflector_separately(
    fake_llm: FakeLLMServer, second_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    script_actor(fake_llm)
    second_llm.reset()
    second_llm.script(Rule(model="reflector-m", replies=[LESSON]))
    env = env | {
        "RFX_ACTOR_BASE_URL": fake_llm.base_url,
        "RFX_ACTOR_MODEL": "actor-m",
        "RFX_ACTOR_API_KEY": "key-a",
        "RFX_REFLECTOR_BASE_URL": second_llm.base_url,
        "RFX_REFLECTOR_MODEL": "reflector-m",
        "RFX_REFLECTOR_API_KEY": "key-r",
    }
    result = rfx(["run", "--task", str(task_file), "--json"], env)
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.actor_model, episode.reflector_model) == ("actor-m", "reflector-m")
    assert [(r.model, r.api_key) for r in fake_llm.requests] == [("actor-m", "key-a")] * 2
    assert [(r.model, r.api_key) for r in second_llm.requests] == [("reflector-m", "key-r")]
    second_llm.reset()


def test_reflector_flags_point_the_reflector_elsewhere(
    fake_llm: FakeLLMServer, second_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    script_actor(fake_llm)
    second_llm.reset()
    second_llm.script(Rule(model="judge-of-code", replies=[LESSON]))
    result = rfx(
        [
            "run",
            "--task",
            str(task_file),
            "--base-url",
            fake_llm.base_url,
            "--model",
            "actor-m",
            "--reflector-base-url",
            second_llm.base_url,
            "--reflector-model",
            "judge-of-code",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # without --json, nothing on stdout
    assert [r.model for r in second_llm.requests] == ["judge-of-code"]
    assert {r.model for r in fake_llm.requests} == {"actor-m"}
    second_llm.reset()


def test_humaneval_task(fake_llm: FakeLLMServer, env: dict[str, str]) -> None:
    problem = humaneval_task("HumanEval/0")
    assert problem.canonical_solution is not None
    fake_llm.script(Rule(replies=[f"```python\n{problem.prompt}{problem.canonical_solution}```"]))
    result = rfx(
        [
            "run",
            "--task",
            "humaneval:HumanEval/0",
            "--base-url",
            fake_llm.base_url,
            "--model",
            "m",
            "--strategy",
            "single",
            "--json",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert episode.config.resolved_feedback(episode.task) == "visible"  # derived from the docstring
    assert (episode.status, episode.stop_reason) == ("succeeded", "solved")
    assert episode.task.visible_tests and "check(" not in fake_llm.requests[0].text


def test_sampling_options_reach_the_model(
    fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    fake_llm.script(Rule(replies=[WRONG, WRONG, RIGHT]))
    result = rfx(
        [
            "run",
            "--task",
            str(task_file),
            "--base-url",
            fake_llm.base_url,
            "--model",
            "m",
            "--strategy",
            "best_of_n",
            "--samples",
            "3",
            "--seed",
            "40",
            "--temperature",
            "0.5",
            "--json",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.stop_reason, episode.final_trial, len(episode.attempts)) == ("solved", 3, 3)
    assert [(r.params.get("seed"), r.params.get("temperature")) for r in fake_llm.requests] == [
        (40, 0.5),
        (41, 0.5),
        (42, 0.5),
    ]


def test_retry_options_reach_the_episode(
    fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    fake_llm.script(
        Rule(model="actor-m", pattern="failed its tests", replies=[LESSON]),
        Rule(model="actor-m", replies=[WRONG]),
    )
    base = ["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "actor-m"]
    options = [
        "--seed",
        "5",
        "--retry-temperatures",
        "0.3,0.9",
        "--max-resamples",
        "1",
        "--retry-context",
        "fresh",
    ]
    result = rfx([*base, *options, "--feedback-level", "trace", "--json"], env)
    assert result.returncode == 1, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.status, episode.stop_reason, len(episode.attempts), len(episode.resamples)) == (
        "failed",
        "stuck",
        1,
        2,
    )
    assert (episode.config.feedback_level, episode.config.retry_context) == ("trace", "fresh")
    actor = [r for r in fake_llm.requests if "failed its tests" not in r.last_user]
    assert [(r.params.get("temperature"), r.params.get("seed")) for r in actor] == [
        (0.0, 5),
        (0.3, 6),
        (0.9, 7),
    ]
    assert (
        "return a - b" not in actor[1].last_user
        and "An earlier implementation was wrong" in actor[1].last_user
    )
    assert "repeats trial 1" in result.stderr and "stuck" in result.stderr

    fake_llm.reset()
    fake_llm.script(Rule(model="actor-m", replies=[WRONG]))
    result = rfx([*base, "--retries", "greedy", "--max-trials", "2", "--json"], env)
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.stop_reason, [a.duplicate_of for a in episode.attempts]) == ("max_trials", [None, 1])

    for bad, fragment in (
        (["--retry-temperatures", "0.5,hot"], "--retry-temperatures"),
        (["--retry-temperatures", "3"], "--retry-temperatures"),
        (["--max-resamples", "-2"], "--max-resamples"),
    ):
        one_line_error(rfx([*base, *bad], env), 2, fragment)


def test_tree_search_from_the_command_line(
    fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    product = "```python\ndef add(a: int, b: int) -> int:\n    return a * b\n```"
    quotient = "```python\ndef add(a: int, b: int) -> int:\n    return a // b\n```"
    fake_llm.script(
        Rule(model="actor-m", pattern=RETRY, replies=[product, quotient, RIGHT]),
        Rule(model="actor-m", pattern="failed its tests", replies=[LESSON]),
        Rule(model="actor-m", replies=[WRONG]),
    )
    base = ["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "actor-m"]
    result = rfx([*base, "--strategy", "tree_search", "--branching", "3", "--max-trials", "6", "--json"], env)
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.config.strategy, episode.config.branching) == ("tree_search", 3)
    assert (episode.stop_reason, episode.final_trial) == ("solved", 4)
    assert [(a.parent, a.value) for a in episode.attempts] == [(None, 0.0), (1, 0.0), (1, 0.0), (1, 1.0)]
    assert "trial 4 (child of trial 1): code" in result.stderr and "trial 1: code" in result.stderr


def test_budget_and_timeout_options(fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]) -> None:
    script_actor(fake_llm)
    base = ["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "actor-m", "--json"]
    result = rfx([*base, "--budget-tokens", "1"], env)
    assert result.returncode == 1, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.status, episode.stop_reason, len(episode.attempts)) == ("failed", "budget", 1)

    fake_llm.reset()
    fake_llm.script(Rule(replies=[Reply.hang(60)]))
    result = rfx([*base, "--timeout", "1"], env)
    assert result.returncode == 1, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.status, episode.stop_reason) == ("timed_out", "timeout")


def test_memory_task_starts_a_rerun_from_earlier_lessons(
    fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    script_actor(fake_llm)
    base = ["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "actor-m"]
    assert rfx([*base, "--memory", "task"], env).returncode == 0
    fake_llm.reset()
    fake_llm.script(Rule(replies=[RIGHT]))
    assert rfx([*base, "--memory", "task"], env).returncode == 0
    assert LESSON in fake_llm.requests[0].last_user
    fake_llm.reset()
    fake_llm.script(Rule(replies=[RIGHT]))
    assert rfx([*base, "--memory", "episode"], env).returncode == 0
    assert LESSON not in fake_llm.requests[0].last_user


def test_llm_fault_is_recorded_not_a_traceback(
    fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    fake_llm.script(Rule(replies=[Reply.server_error(500)]))
    result = rfx(
        ["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "m", "--json"],
        env | {"RFX_LLM_MAX_RETRIES": "1"},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.status, episode.stop_reason) == ("failed", "llm_error")
    assert episode.error is not None and "HTTP 500" in episode.error


def test_ctrl_c_records_the_episode_as_cancelled(
    fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    fake_llm.script(Rule(replies=[Reply.hang(60)]))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "run",
            "--task",
            str(task_file),
            "--base-url",
            fake_llm.base_url,
            "--model",
            "m",
            "--json",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    assert process.stderr is not None
    started = process.stderr.readline()  # the episode has started once this line is out
    assert started.startswith("episode ep_"), started
    while not fake_llm.requests:  # and the actor's request is in flight
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    episode = Episode.model_validate_json(out)
    assert (episode.status, episode.stop_reason) == ("cancelled", "cancelled")
    assert "cancelled" in err and "Traceback" not in err


def test_memory_none_needs_no_redis(fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]) -> None:
    script_actor(fake_llm)
    dead = env | {"RFX_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    result = rfx(
        [
            "run",
            "--task",
            str(task_file),
            "--base-url",
            fake_llm.base_url,
            "--model",
            "actor-m",
            "--memory",
            "none",
            "--json",
        ],
        dead,
    )
    assert result.returncode == 0, result.stderr
    assert Episode.model_validate_json(result.stdout).attempts[0].reflection == LESSON


def test_unreachable_redis_is_one_line(fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]) -> None:
    dead = env | {"RFX_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    result = rfx(["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "m"], dead)
    one_line_error(result, 3, "Redis is not reachable")
    assert fake_llm.requests == []


def test_unreachable_docker_is_one_line(
    fake_llm: FakeLLMServer, task_file: Path, env: dict[str, str]
) -> None:
    no_docker = env | {"DOCKER_HOST": f"unix://{task_file.parent}/no-docker.sock"}
    args = ["run", "--task", str(task_file), "--base-url", fake_llm.base_url, "--model", "m"]
    result = rfx(args, no_docker)
    one_line_error(result, 3, "Docker engine is not reachable")
    assert fake_llm.requests == []


def test_no_model_configured_is_one_line(task_file: Path, env: dict[str, str]) -> None:
    # a port nothing serves: a bundled model already served on the default port would be used
    env = env | {"RFX_LOCAL_MODEL_PORT": str(free_port())}
    one_line_error(rfx(["run", "--task", str(task_file)], env), 2, "no model configured")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "cannot read task file"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "x", "prompt": "p", "tests": "def check(candidate): pass"}', "entry_point is required"),
        ('{"id": "x", "prompt": "p", "tests": "t"}', "declare tests_format"),
        ('{"id": "x", "prompt": "p", "tests": "t", "entry_point": "f", "colour": "red"}', "colour"),
    ],
)
def test_bad_task_file_is_one_line(
    tmp_path: Path, env: dict[str, str], content: str | None, fragment: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    result = rfx(["run", "--task", str(path), "--base-url", "http://127.0.0.1:9/v1", "--model", "m"], env)
    one_line_error(result, 2, fragment)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--max-trials", "0"], "--max-trials"),
        (["--temperature", "5"], "--temperature"),
        (["--strategy", "mcts"], "--strategy"),
        (["--strategy", "tree_search", "--branching", "0"], "--branching"),
        (["--feedback", "hidden"], "--feedback"),
        (["--base-url", "ftp://127.0.0.1/v1", "--model", "m"], "base_url"),
    ],
)
def test_bad_options_are_one_line(
    task_file: Path, env: dict[str, str], args: list[str], fragment: str
) -> None:
    base = ["run", "--task", str(task_file)]
    if "--base-url" not in args:
        base += ["--base-url", "http://127.0.0.1:9/v1", "--model", "m"]
    one_line_error(rfx(base + args, env), 2, fragment)


def test_unknown_humaneval_id_is_one_line(env: dict[str, str]) -> None:
    result = rfx(
        ["run", "--task", "humaneval:HumanEval/999", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"],
        env,
    )
    one_line_error(result, 2, "HumanEval/999")
