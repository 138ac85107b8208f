"""Actor and reflector requests reach the model and endpoint configured for each (two real servers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.llm import ModelRegistry, OpenAIChatModel, build_chat_models
from app.llm.fake_script import Rule
from app.llm.fake_server import FakeLLMServer
from app.reflexion.models import ChatMessage
from app.settings import Settings

ASK = [ChatMessage(role="user", content="hello")]


@pytest.fixture
def second_llm(fake_llm_factory: Callable[[], FakeLLMServer]) -> Iterator[FakeLLMServer]:
    """A second endpoint, e.g. a stronger hosted reflector next to a weak local actor."""
    server = fake_llm_factory()
    yield server
    server.stop()


async def test_env_configured_actor_and_reflector_use_their_own_endpoints(
    fake_llm: FakeLLMServer, second_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_llm.script(Rule(model="weak", replies=["actor reply"]))
    second_llm.script(Rule(model="strong", replies=["reflector reply"]))
    monkeypatch.setenv("RFX_ACTOR_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("RFX_ACTOR_MODEL", "weak")
    monkeypatch.setenv("RFX_ACTOR_API_KEY", "key-actor")
    monkeypatch.setenv("RFX_REFLECTOR_BASE_URL", second_llm.base_url)
    monkeypatch.setenv("RFX_REFLECTOR_MODEL", "strong")
    monkeypatch.setenv("RFX_REFLECTOR_API_KEY", "key-reflector")
    actor, reflector = build_chat_models(Settings())
    assert (actor.name, reflector.name) == ("weak", "strong")
    assert (await actor.complete(ASK)).text == "actor reply"
    assert (await reflector.complete(ASK)).text == "reflector reply"
    [to_actor] = fake_llm.requests
    [to_reflector] = second_llm.requests
    assert (to_actor.model, to_actor.api_key) == ("weak", "key-actor")
    assert (to_reflector.model, to_reflector.api_key) == ("strong", "key-reflector")
    for model in (actor, reflector):
        assert isinstance(model, OpenAIChatModel)
        await model.aclose()


async def test_config_file_names_route_to_their_endpoints(
    fake_llm: FakeLLMServer, second_llm: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        f'[defaults]\nactor = "small"\nreflector = "big"\n\n'
        f'[models.small]\nbase_url = "{fake_llm.base_url}"\nmodel = "qwen-small"\n\n'
        f'[models.big]\nbase_url = "{second_llm.base_url}"\nmodel = "big-model"\napi_key_env = "BIG_KEY"\n'
    )
    monkeypatch.setenv("BIG_KEY", "secret-big")
    registry = ModelRegistry.from_settings(Settings(config=path))
    actor, reflector = OpenAIChatModel(registry.actor()), OpenAIChatModel(registry.reflector())
    named = OpenAIChatModel(registry.actor("big"))  # a request may name any configured model
    await actor.complete(ASK)
    await reflector.complete(ASK)
    await named.complete(ASK)
    assert [(r.model, r.api_key) for r in fake_llm.requests] == [("qwen-small", "not-needed")]
    assert [(r.model, r.api_key) for r in second_llm.requests] == [("big-model", "secret-big")] * 2
    for model in (actor, reflector, named):
        await model.aclose()
