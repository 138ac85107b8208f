"""Weak-to-strong with the bundled models (issue 22 item 3): the 1.5B writes the lessons for the 0.5B.

Both sizes are chosen by name (`local-0.5b`, `local-1.5b`), each on its own loopback port so both
servers run at once. Here two fake OpenAI-compatible servers stand on those two ports, answering to
the bundled aliases; `rfx run` must send the actor's calls to one and the reflector's to the other,
reusing the servers it finds instead of installing or starting anything.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.llm.fake_script import Rule
from app.llm.fake_server import FakeLLMServer
from app.reflexion.models import Episode
from tests.integration.test_episode_engine import LESSON, RETRY, RIGHT, WRONG
from tests.integration.test_run_cli import env, rfx, task_file  # noqa: F401 (fixtures)

SMALL, LARGE = "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"


def _two_free_ports() -> int:
    """A port P with P+1 free too (the default size serves on P, the other size on P+1)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two consecutive free ports")


@pytest.fixture
def local_pair() -> Iterator[tuple[FakeLLMServer, FakeLLMServer]]:
    port = _two_free_ports()
    small, large = FakeLLMServer(port=port).start(), FakeLLMServer(port=port + 1).start()
    try:
        yield small, large
    finally:
        small.stop()
        large.stop()


def test_a_1_5b_reflector_for_the_0_5b_actor_by_name(
    local_pair: tuple[FakeLLMServer, FakeLLMServer],
    task_file: Path,  # noqa: F811
    env: dict[str, str],  # noqa: F811
) -> None:
    small, large = local_pair
    small.script(Rule(model=SMALL, pattern=RETRY, replies=[RIGHT]), Rule(model=SMALL, replies=[WRONG]))
    large.script(Rule(model=LARGE, replies=[LESSON]))
    env = env | {"RFX_LOCAL_MODEL_PORT": str(small.port), "RFX_LOCAL_MODEL_SIZE": "0.5b"}
    args = ["run", "--task", str(task_file), "--model", "local-0.5b", "--reflector-model", "local-1.5b"]
    result = rfx([*args, "--json"], env)
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.actor_model, episode.reflector_model) == ("local-0.5b", "local-1.5b")
    assert (episode.status, episode.attempts[0].reflection) == ("succeeded", LESSON)
    assert [r.model for r in small.requests if r.path.endswith("/chat/completions")] == [SMALL, SMALL]
    reflector_calls = [r for r in large.requests if r.path.endswith("/chat/completions")]
    assert [r.model for r in reflector_calls] == [LARGE]
    assert "failed its tests" in reflector_calls[0].last_user
    assert LESSON in small.requests[-1].text  # the 1.5B's lesson reached the 0.5B's retry
    assert "the reflector local-1.5b is selected" in result.stderr and "already running" in result.stderr


def test_the_pair_from_the_config_file_and_a_missing_server(
    local_pair: tuple[FakeLLMServer, FakeLLMServer],
    task_file: Path,  # noqa: F811
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    small, large = local_pair
    small.script(Rule(model=SMALL, replies=[RIGHT]))
    large.script(Rule(model=LARGE, replies=[LESSON]))
    config = tmp_path / "models.toml"
    config.write_text('[defaults]\nactor = "local-0.5b"\nreflector = "local-1.5b"\n')
    env = env | {"RFX_LOCAL_MODEL_PORT": str(small.port), "RFX_CONFIG": str(config)}
    result = rfx(["run", "--task", str(task_file), "--json"], env)
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    assert (episode.actor_model, episode.reflector_model) == ("local-0.5b", "local-1.5b")

    large.stop()  # nothing serves the 1.5B and it is not installed: one line, nothing started
    result = rfx(["run", "--task", str(task_file)], env)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    last = result.stderr.strip().splitlines()[-1]  # after the notes on the actor's server it reused
    assert last.startswith("rfx: error: the reflector local-1.5b is selected")
    assert "Traceback" not in result.stderr
    assert "--reflector-model, or run `rfx model install --size 1.5b`" in last
