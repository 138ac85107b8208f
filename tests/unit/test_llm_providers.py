"""The model registry: presets, env fallbacks, the RFX_CONFIG file, CLI overrides, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.errors import ConfigError, InvalidInput
from app.llm import OpenAIChatModel
from app.llm.config_file import load_config_file
from app.llm.providers import ModelOverrides, ModelRegistry, build_chat_models
from app.settings import Settings

CONFIG = """
[defaults]
actor = "small"
reflector = "gpt-4o-mini"

[models.gpt-4o-mini]
provider = "openai"
api_key_env = "OPENAI_API_KEY"

[models.small]
base_url = "http://127.0.0.1:8089/v1"
model = "qwen2.5-coder-0.5b"
timeout_s = 45
max_retries = 1
price_input_per_1m = 0.5
extra_headers = { "X-Title" = "rfx" }
"""


def registry(
    env: dict[str, str] | None = None, config: str | None = None, tmp: Path | None = None, **fields: Any
) -> ModelRegistry:
    settings = Settings(**fields)
    file = None
    if config is not None:
        assert tmp is not None
        path = tmp / "models.toml"
        path.write_text(config)
        file = load_config_file(path)
    return ModelRegistry(settings, file, env=env or {})


def test_nothing_configured_offers_only_the_local_model() -> None:
    reg = registry(local_model_port=9123)
    assert reg.is_configured() is False
    assert reg.names() == ["local", "local-0.5b", "local-1.5b"]
    local = reg.actor("local")
    assert (local.base_url, local.model) == ("http://127.0.0.1:9123/v1", "qwen2.5-coder-0.5b")
    with pytest.raises(ConfigError, match=r"no actor model configured.*--model local"):
        reg.actor()
    with pytest.raises(ConfigError, match="no reflector model configured"):
        reg.reflector()


def test_local_model_follows_the_configured_size() -> None:
    assert registry(local_model_size="1.5b").actor("local").model == "qwen2.5-coder-1.5b"


@pytest.mark.parametrize(
    ("default_size", "ports"),
    [("0.5b", {"0.5b": 9123, "1.5b": 9124}), ("1.5b", {"1.5b": 9123, "0.5b": 9124})],
)
def test_each_local_size_has_a_name_and_its_own_port(default_size: str, ports: dict[str, int]) -> None:
    """A 0.5B actor and a 1.5B reflector are two servers at once: each size is named, on its own port."""
    reg = registry(local_model_port=9123, local_model_size=default_size)
    for size, port in ports.items():
        model = reg.actor(f"local-{size}")
        assert (model.base_url, model.model) == (f"http://127.0.0.1:{port}/v1", f"qwen2.5-coder-{size}")
    assert reg.actor("local").base_url == "http://127.0.0.1:9123/v1"


def test_the_1_5b_reflector_is_chosen_by_name(tmp_path: Path) -> None:
    by_env = registry({}, local_model_port=9123, actor_model="local-0.5b", reflector_model="local-1.5b")
    assert (by_env.actor().name, by_env.reflector().name) == ("local-0.5b", "local-1.5b")
    assert by_env.reflector().base_url == "http://127.0.0.1:9124/v1"
    config = '[defaults]\nactor = "local-0.5b"\nreflector = "local-1.5b"\n'
    by_file = registry({}, config, tmp_path, local_model_port=9123)
    assert (by_file.actor().model, by_file.reflector().model) == ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def test_actor_from_a_preset_and_the_reflector_falls_back_to_it() -> None:
    reg = registry(
        actor_provider="ollama", actor_model="qwen2.5-coder:7b", llm_timeout_s=33, llm_max_retries=4
    )
    actor = reg.actor()
    assert reg.is_configured()
    assert actor.base_url == "http://127.0.0.1:11434/v1"
    assert (actor.name, actor.model, actor.provider) == ("qwen2.5-coder:7b", "qwen2.5-coder:7b", "ollama")
    assert (actor.timeout_s, actor.max_retries) == (33, 4)
    assert reg.reflector() == actor
    assert reg.reflector_is_explicit() is False


@pytest.mark.parametrize(
    ("provider", "url"),
    [
        ("vllm", "http://127.0.0.1:8000/v1"),
        ("llamacpp", "http://127.0.0.1:8080/v1"),
        ("lmstudio", "http://127.0.0.1:1234/v1"),
        ("openai", "https://api.openai.com/v1"),
    ],
)
def test_presets_know_where_servers_listen(provider: str, url: str) -> None:
    reg = registry(env={"OPENAI_API_KEY": "sk-env"}, actor_provider=provider, actor_model="m")
    assert reg.actor().base_url == url


def test_reflector_model_alone_keeps_the_actors_endpoint_and_key() -> None:
    reg = registry(
        actor_base_url="http://127.0.0.1:7000/v1",
        actor_model="weak",
        actor_api_key="k-a",
        reflector_model="strong",
    )
    reflector = reg.reflector()
    assert (reflector.base_url, reflector.model) == ("http://127.0.0.1:7000/v1", "strong")
    assert reflector.api_key is not None and reflector.api_key.get_secret_value() == "k-a"
    assert reg.actor().model == "weak"
    assert reg.reflector_is_explicit()


def test_reflector_on_another_endpoint_never_inherits_the_actors_key() -> None:
    reg = registry(
        actor_base_url="http://127.0.0.1:7000/v1",
        actor_model="weak",
        actor_api_key="k-a",
        reflector_base_url="http://127.0.0.1:7001/v1",
    )
    reflector = reg.reflector()
    assert (reflector.base_url, reflector.model) == ("http://127.0.0.1:7001/v1", "weak")
    assert reflector.api_key is None


def test_same_model_id_on_two_endpoints_stays_two_models() -> None:
    reg = registry(
        actor_base_url="http://127.0.0.1:7000/v1",
        actor_model="m",
        reflector_base_url="http://127.0.0.1:7001/v1",
    )
    actor, reflector = reg.actor(), reg.reflector()
    assert (actor.name, actor.base_url) == ("m", "http://127.0.0.1:7000/v1")
    assert (reflector.name, reflector.model, reflector.base_url) == (
        "reflector:m",
        "m",
        "http://127.0.0.1:7001/v1",
    )
    assert reg.names() == ["local", "local-0.5b", "local-1.5b", "m", "reflector:m"]


def test_hosted_preset_takes_its_key_from_the_environment() -> None:
    reg = registry(env={"OPENAI_API_KEY": "sk-env"}, actor_provider="openai", actor_model="gpt-4o-mini")
    actor = reg.actor()
    assert actor.api_key is not None and actor.api_key.get_secret_value() == "sk-env"
    assert actor.max_tokens_param == "max_completion_tokens"
    missing = registry(actor_provider="openai", actor_model="gpt-4o-mini")
    with pytest.raises(ConfigError, match="needs an API key: set OPENAI_API_KEY"):
        missing.actor()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"actor_provider": "nope", "actor_model": "m"}, "unknown provider 'nope'.*ollama"),
        ({"actor_model": "m"}, "RFX_ACTOR_MODEL='m' is neither a configured model nor has an endpoint"),
        ({"actor_provider": "vllm"}, "RFX_ACTOR_MODEL is required"),
        ({"actor_base_url": "ftp://x", "actor_model": "m"}, "base_url must be an http"),
    ],
)
def test_bad_environment_is_a_config_error(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry(**fields)


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    reg = registry(config=CONFIG, tmp=tmp_path)
    known = r"gpt-4o-mini, local, local-0\.5b, local-1\.5b, small"
    with pytest.raises(InvalidInput, match=r"unknown model 'gpt-5'.*" + known):
        reg.actor("gpt-5")


def test_config_file_names_models_and_defaults(tmp_path: Path) -> None:
    reg = registry(env={"OPENAI_API_KEY": "sk-file"}, config=CONFIG, tmp=tmp_path)
    assert reg.is_configured()
    assert reg.names() == ["gpt-4o-mini", "local", "local-0.5b", "local-1.5b", "small"]
    small = reg.actor()
    assert (small.name, small.model) == ("small", "qwen2.5-coder-0.5b")
    assert small.base_url == "http://127.0.0.1:8089/v1"
    assert (small.timeout_s, small.max_retries, small.price_input_per_1m) == (45, 1, 0.5)
    assert small.extra_headers == {"X-Title": "rfx"}
    strong = reg.reflector()
    assert (strong.model, strong.base_url) == ("gpt-4o-mini", "https://api.openai.com/v1")
    assert strong.api_key is not None and strong.api_key.get_secret_value() == "sk-file"
    assert reg.actor("gpt-4o-mini") == strong  # any role may use any configured name


def test_environment_beats_the_file_and_may_name_a_file_model(tmp_path: Path) -> None:
    reg = registry(
        config=CONFIG,
        tmp=tmp_path,
        env={"OPENAI_API_KEY": "x"},
        actor_model="gpt-4o-mini",
        reflector_model="small",
    )
    assert reg.actor().name == "gpt-4o-mini"
    assert reg.reflector().name == "small"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.a\n", "not valid TOML"),
        ('[models.a]\nbase_url = "http://h/v1"\nmodle = "x"\n', "models.a.modle: Extra inputs"),
        ('[models.a]\nmodel = "x"\n', "models.a: give base_url or provider"),
        ('[defaults]\nactor = "ghost"\n', "defaults.actor = 'ghost' is not a model"),
        ('[models.a]\nbase_url = "localhost:1"\n', "base_url must be an http"),
        ('[models.a]\nprovider = "acme"\n', "unknown provider 'acme'"),
    ],
)
def test_bad_config_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        ModelRegistry.from_settings(Settings(config=path))


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ModelRegistry.from_settings(Settings(config=tmp_path / "absent.toml"))


def test_cli_flags_point_the_actor_at_an_endpoint_and_the_reflector_follows() -> None:
    flags = ModelOverrides(model="m1", base_url="http://127.0.0.1:7100/v1", api_key="k1")
    actor, reflector = build_chat_models(Settings(), actor_overrides=flags)
    assert isinstance(actor, OpenAIChatModel) and isinstance(reflector, OpenAIChatModel)
    assert (actor.config.base_url, actor.config.model) == ("http://127.0.0.1:7100/v1", "m1")
    assert actor.config.api_key is not None and actor.config.api_key.get_secret_value() == "k1"
    assert reflector.config == actor.config


def test_cli_reflector_flags_are_separate_and_fall_back_field_by_field() -> None:
    actor, reflector = build_chat_models(
        Settings(),
        actor_overrides=ModelOverrides(model="weak", base_url="http://127.0.0.1:7100/v1", api_key="k1"),
        reflector_overrides=ModelOverrides(model="strong"),
    )
    assert isinstance(actor, OpenAIChatModel) and isinstance(reflector, OpenAIChatModel)
    assert (reflector.config.base_url, reflector.config.model) == ("http://127.0.0.1:7100/v1", "strong")
    _, other = build_chat_models(
        Settings(),
        actor_overrides=ModelOverrides(model="weak", base_url="http://127.0.0.1:7100/v1", api_key="k1"),
        reflector_overrides=ModelOverrides(base_url="http://127.0.0.1:7200/v1"),
    )
    assert isinstance(other, OpenAIChatModel)
    assert (other.config.base_url, other.config.model, other.config.api_key) == (
        "http://127.0.0.1:7200/v1",
        "weak",
        None,
    )


def test_cli_model_name_selects_a_configured_model(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(CONFIG)
    actor, reflector = build_chat_models(
        Settings(config=path, local_model_port=9555),
        actor_overrides=ModelOverrides(model="local"),
        reflector_overrides=ModelOverrides(model="small"),
    )
    assert isinstance(actor, OpenAIChatModel) and isinstance(reflector, OpenAIChatModel)
    assert actor.config.base_url == "http://127.0.0.1:9555/v1"
    assert reflector.config.name == "small"


def test_cli_errors_are_clear() -> None:
    with pytest.raises(InvalidInput, match="--base-url needs --model"):
        build_chat_models(Settings(), actor_overrides=ModelOverrides(base_url="http://127.0.0.1:1/v1"))
    with pytest.raises(InvalidInput, match=r"unknown model 'gpt-x'.*give --base-url, or one of: local"):
        build_chat_models(Settings(), actor_overrides=ModelOverrides(model="gpt-x"))
    with pytest.raises(ConfigError, match="no actor model configured"):
        build_chat_models(Settings())
    with pytest.raises(ConfigError, match="base_url must be an http"):
        build_chat_models(Settings(), actor_overrides=ModelOverrides(model="m", base_url="127.0.0.1:1"))
