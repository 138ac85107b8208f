"""A bundled actor's measured defaults over real HTTP (issue 23, item 4): POST /v1/episodes (and MCP,
which submits through it) and the chat route fill what the request left unset from the actor's
table entry, and leave alone what the request chose, another strategy, and a configured reflector.

The table is swapped in the test's process (the app runs in it), so these tests hold whatever the
held-out run decides; tests/unit/test_bundled_defaults.py checks the shipped table against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from app.llm import bundled_defaults
from app.llm.bundled_defaults import BundledDefaults
from app.llm.fake_script import Rule
from app.llm.fake_server import FakeLLMServer
from app.llm.local_fallback import configured_or_local
from app.llm.presets import local_alias
from app.settings import get_settings
from tests.fixtures.services import free_port
from tests.integration.apiserver import (
    BAD,
    GOOD,
    LESSON,
    running_app,
    service_settings,
    task_body,
    wait_terminal,
)
from tests.integration.test_episode_engine import RETRY
from tests.integration.test_local_reflector import LARGE, SMALL, local_pair  # noqa: F401 (fixture)
from tests.integration.test_openai_facade import ADD_TASK

BEST_OF_4 = BundledDefaults("best-of-4", {"strategy": "best_of_n", "samples": 4}, reflector="local-1.5b")
# A 1.5B actor whose winner reflects with the 0.5B (installed wherever `make model` ran), and its
# verdict of the 1.5B alone for a host without the 0.5B's weights.
ALONE = BundledDefaults("best-of-4", {"strategy": "best_of_n", "samples": 4})
WINNER = BundledDefaults("chosen", {"strategy": "reflexion", "feedback_level": "trace"}, "local-0.5b", ALONE)


def measured(monkeypatch: pytest.MonkeyPatch, defaults: BundledDefaults | None, size: str = "0.5b") -> None:
    table = {size: defaults} if defaults is not None else {}
    monkeypatch.setattr(bundled_defaults, "BUNDLED_DEFAULTS", table)


def bundled_settings(redis_url: str, key_prefix: str, **overrides: Any) -> Any:
    """The 0.5B by name as the server's actor (its endpoint is the registry's own, as in production),
    on a host with the bundled models `make model` installed."""
    values: dict[str, Any] = {
        "actor_base_url": None,
        "actor_model": "local-0.5b",
        "local_model_size": "0.5b",
        "data_dir": get_settings().data_dir,
    }
    return service_settings(redis_url, key_prefix, **(values | overrides))


async def test_an_episode_takes_the_actors_defaults_for_what_it_left_unset(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 1.5B as the server's actor, its defaults reflecting with the installed 0.5B."""
    measured(monkeypatch, BundledDefaults("best-of-4", BEST_OF_4.settings, "local-0.5b"), "1.5b")
    settings = bundled_settings(redis_url, key_prefix, actor_model="local-1.5b")
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:

        async def submit(**options: object) -> dict[str, Any]:
            r = await client.post("/v1/episodes", json=task_body(**options))
            assert r.status_code == 202, r.text
            return dict(r.json())

        plain = await submit()
        assert (plain["actor_model"], plain["reflector_model"]) == ("local-1.5b", "local-0.5b")
        assert (plain["config"]["strategy"], plain["config"]["samples"]) == ("best_of_n", 4)
        own_samples = await submit(samples=2)
        assert (own_samples["config"]["strategy"], own_samples["config"]["samples"]) == ("best_of_n", 2)
        same_strategy = await submit(strategy="best_of_n", max_trials=2)
        assert (same_strategy["config"]["samples"], same_strategy["config"]["max_trials"]) == (4, 2)
        other = await submit(strategy="reflexion")  # the measured settings belong to their strategy
        assert (other["config"]["strategy"], other["config"]["samples"]) == ("reflexion", 5)
        assert other["reflector_model"] == "local-1.5b"
        own_reflector = await submit(reflector={"model": "local-1.5b"})  # asks for lessons
        assert (own_reflector["config"]["strategy"], own_reflector["reflector_model"]) == (
            "reflexion",
            "local-1.5b",
        )
        other_size = await submit(actor={"model": "local-0.5b"})  # a size the table does not name
        assert other_size["config"]["strategy"] == "reflexion"
        assert other_size["reflector_model"] == "local-1.5b"  # the server's default, as for any actor


async def test_a_host_without_the_reflectors_weights_gets_the_actor_alone_verdict(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    measured(monkeypatch, WINNER, "1.5b")
    settings = bundled_settings(redis_url, key_prefix, actor_model="local-1.5b", data_dir=tmp_path)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        plain = (await client.post("/v1/episodes", json=task_body())).json()
        assert (plain["config"]["strategy"], plain["config"]["samples"]) == ("best_of_n", 4)
        assert plain["reflector_model"] == "local-1.5b" and plain["config"]["feedback_level"] == "standard"
        reflexion = (await client.post("/v1/episodes", json=task_body(strategy="reflexion"))).json()
        assert reflexion["config"]["feedback_level"] == "standard"  # nothing measured runs here
        chosen = await client.post("/v1/episodes", json=task_body(reflector={"model": "local-1.5b"}))
        assert chosen.json()["config"]["feedback_level"] == "trace"  # the caller's reflector runs
        assert chosen.json()["config"]["strategy"] == "reflexion"


async def test_the_worker_starts_the_reflector_the_defaults_name(
    redis_url: str,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    local_pair: tuple[FakeLLMServer, FakeLLMServer],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`rfx serve --with-worker`'s start (configured_or_local), then a real episode: the 1.5B acts, the
    0.5B its defaults name reflects (fakes answering to the bundled aliases stand on their ports)."""
    small, large = local_pair
    large.script(Rule(model=LARGE, pattern=RETRY, replies=[GOOD]), Rule(model=LARGE, replies=[BAD]))
    small.script(Rule(model=SMALL, replies=[LESSON]))
    measured(monkeypatch, WINNER, "1.5b")
    settings = bundled_settings(redis_url, key_prefix, actor_model="local-1.5b", local_model_port=small.port)
    settings = configured_or_local(settings)
    said = " ".join(capsys.readouterr().err.split())
    assert "local-1.5b's measured defaults reflect with local-0.5b" in said and "already running" in said
    async with (
        running_app(settings, with_worker=True) as base,
        httpx.AsyncClient(base_url=base, timeout=60) as client,
    ):
        submitted = (await client.post("/v1/episodes", json=task_body())).json()
        episode = await wait_terminal(client, submitted["id"])
    assert episode["status"] == "succeeded" and episode["reflector_model"] == "local-0.5b"
    assert len(episode["attempts"]) == 2 and episode["config"]["feedback_level"] == "trace"
    assert [r.model for r in small.requests if r.path.endswith("/chat/completions")] == [SMALL]
    assert [r.model for r in large.requests if r.path.endswith("/chat/completions")] == [LARGE, LARGE]


def test_a_worker_without_the_reflectors_weights_says_what_episodes_take_instead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    measured(monkeypatch, WINNER, "1.5b")
    settings = service_settings("redis://127.0.0.1:9/0", "p", actor_base_url=None, actor_model="local-1.5b")
    configured_or_local(settings.model_copy(update={"data_dir": tmp_path}))
    said = " ".join(capsys.readouterr().err.split())
    assert "local-1.5b's measured defaults reflect with local-0.5b, which is not installed" in said
    assert (
        "(`rfx model install --size 0.5b`): episodes that leave the strategy unset take `best-of-4`'s" in said
    )


async def test_a_configured_reflector_is_never_replaced(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reflector of the configuration's own runs instead of the one the defaults name, and asks for
    lessons: a measured strategy that writes none gives way to the general defaults."""
    settings = bundled_settings(redis_url, key_prefix, reflector_model="local-0.5b")
    reflecting = BundledDefaults("chosen", WINNER.settings, "local-1.5b")
    for defaults, feedback_level in ((reflecting, "trace"), (BEST_OF_4, "standard")):
        measured(monkeypatch, defaults)
        async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
            r = await client.post("/v1/episodes", json=task_body())
            assert r.status_code == 202, r.text
            config = r.json()["config"]
            assert (config["strategy"], r.json()["reflector_model"]) == ("reflexion", "local-0.5b")
            assert (config["feedback_level"], config["samples"]) == (feedback_level, 5)


@pytest.mark.parametrize("defaults", [BundledDefaults("single", {"strategy": "single"}), None])
async def test_the_chat_route_runs_the_actors_default(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch, defaults: BundledDefaults | None
) -> None:
    """A real episode through the worker, the 0.5B's server being a fake that answers to its alias."""
    measured(monkeypatch, defaults)
    llm = FakeLLMServer(port=free_port()).start()
    try:
        llm.script({"model": local_alias("0.5b"), "replies": [GOOD]})
        settings = bundled_settings(redis_url, key_prefix, local_model_port=llm.port)
        async with (
            running_app(settings, with_worker=True) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as client,
        ):
            body = {"model": "reflexion", "messages": [{"role": "user", "content": ADD_TASK}]}
            reply = await client.post("/v1/chat/completions", json=body)
            assert reply.status_code == 200, reply.text
            episode_id = reply.json()["rfx"]["episode_id"]
            episode = (await client.get(f"/v1/episodes/{episode_id}")).json()
    finally:
        llm.stop()
    assert episode["status"] == "succeeded" and episode["actor_model"] == "local-0.5b"
    assert episode["config"]["strategy"] == ("single" if defaults is not None else "reflexion")
    assert [r.model for r in llm.requests if r.path.endswith("/chat/completions")] == [local_alias("0.5b")]
