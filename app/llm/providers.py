"""Which model answers as actor and as reflector: presets, the model registry, the CLI's overrides.

Sources, strongest first:
1. `RFX_ACTOR_{PROVIDER,BASE_URL,MODEL,API_KEY}`; `RFX_REFLECTOR_*` fall back field by field to the
   actor's (the reflector inherits the actor's key only while it talks to the actor's endpoint, so a
   key never travels to another vendor).
2. The TOML file named by `RFX_CONFIG` (format in app/llm/config_file.py): named models + defaults.
3. `local`: the bundled model of `rfx model serve`, always selectable by name.

Requests to the service only ever *name* a model; endpoints and keys come from configuration. The
CLI, run by the operator, may also point at an endpoint directly (`--base-url`, `--api-key`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr, ValidationError

from app.errors import ConfigError, InvalidInput
from app.llm.config import ProviderConfig
from app.llm.config_file import ConfigFile, ModelEntry, load_config_file
from app.llm.presets import LOCAL, PRESETS, Preset, all_presets, local_preset, local_sized_presets
from app.reflexion.ports import ChatModel
from app.settings import Settings

__all__ = [
    "LOCAL",
    "PRESETS",
    "ModelOverrides",
    "ModelRegistry",
    "Preset",
    "build_chat_models",
    "chat_models",
    "local_preset",
]

Role = Literal["actor", "reflector"]


@dataclass(frozen=True)
class ModelOverrides:
    """The CLI's --model/--base-url/--api-key (or their --reflector-* twins)."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None

    def empty(self) -> bool:
        return self.model is None and self.base_url is None and self.api_key is None


@dataclass(frozen=True)
class _RoleFields:
    provider: str | None
    base_url: str | None
    model: str | None
    api_key: SecretStr | None

    def is_set(self) -> bool:
        return self.provider is not None or self.base_url is not None or self.model is not None


def _config(source: str, **fields: Any) -> ProviderConfig:
    try:
        return ProviderConfig(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{source}: {where}: {first['msg']}") from None


class ModelRegistry:
    """Every model that can be chosen by name, and the default actor and reflector."""

    def __init__(
        self, settings: Settings, file: ConfigFile | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self._settings = settings
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._presets = all_presets(settings.local_model_port, settings.local_model_size)
        self._models: dict[str, ProviderConfig] = {}
        self._missing_key: dict[str, str] = {}
        file = file or ConfigFile()
        self._register_preset(LOCAL, self._presets[LOCAL], source="the local model")
        sized = local_sized_presets(settings.local_model_port, settings.local_model_size)
        for name, preset in sized.items():
            self._register_preset(name, preset, source="the local model")
        for name, entry in file.models.items():
            self._register_entry(name, entry)
        actor, reflector = self._role_fields()
        self._actor = self._role_default("actor", actor, file.defaults.actor)
        explicit = self._role_default("reflector", reflector, file.defaults.reflector)
        self._reflector_explicit = explicit is not None
        self._reflector = explicit if explicit is not None else self._actor

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelRegistry:
        file = load_config_file(settings.config) if settings.config is not None else None
        return cls(settings, file)

    # -- queries ---------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._models)

    def is_configured(self) -> bool:
        """False when no actor is configured at all (the CLI then offers the local model)."""
        return self._actor is not None

    def reflector_is_explicit(self) -> bool:
        """True when the reflector was configured on its own rather than following the actor."""
        return self._reflector_explicit

    def actor(self, name: str | None = None) -> ProviderConfig:
        return self._select(name, self._actor, "actor")

    def reflector(self, name: str | None = None) -> ProviderConfig:
        return self._select(name, self._reflector, "reflector")

    def get(self, name: str) -> ProviderConfig:
        if name not in self._models:
            known = ", ".join(self.names())
            raise InvalidInput(f"unknown model {name!r}: known models are {known}")
        env = self._missing_key.get(name)
        if env is not None and not self._env.get(env):
            raise ConfigError(f"model {name!r} needs an API key: set {env}")
        config = self._models[name]
        if env is not None and config.api_key is None:
            config = config.model_copy(update={"api_key": SecretStr(self._env[env])})
        return config

    def needs_base(self, over: ModelOverrides) -> bool:
        """Whether the flags leave anything to take from the role's default (so it must resolve)."""
        if over.base_url is not None:
            return over.model is None
        return over.model is None or over.model not in self._models

    def with_overrides(
        self, base: ProviderConfig | None, over: ModelOverrides, flag: str = "--"
    ) -> ProviderConfig:
        """Apply CLI flags on top of a role's default: a URL means a new endpoint (and only the key
        given with it); a model name picks a registered model, else the same endpoint, other model."""
        api_key = SecretStr(over.api_key) if over.api_key else None
        if over.base_url is not None:
            model = over.model or (base.model if base is not None else None)
            if model is None:
                raise InvalidInput(f"{flag}base-url needs {flag}model (the model id the endpoint serves)")
            return _config(
                f"{flag}base-url",
                name=model,
                base_url=over.base_url,
                model=model,
                api_key=api_key,
                **self._transport(),
            )
        config = base
        if over.model is not None:
            if over.model in self._models:
                config = self.get(over.model)
            elif base is not None:
                config = base.model_copy(update={"name": over.model, "model": over.model})
            else:
                known = ", ".join(self.names())
                raise InvalidInput(
                    f"unknown model {over.model!r} and no endpoint configured for it: give "
                    f"{flag}base-url, or one of: {known}"
                )
        if config is None:
            raise self._not_configured()
        if api_key is not None:
            config = config.model_copy(update={"api_key": api_key})
        return config

    def cli_actor(self, over: ModelOverrides) -> ProviderConfig:
        """The actor's endpoint for the CLI: configuration plus its flags."""
        base = self.actor() if self.is_configured() and self.needs_base(over) else None
        return self.with_overrides(base, over, "--")

    def cli_reflector(self, actor: ProviderConfig, over: ModelOverrides) -> ProviderConfig:
        """The reflector's endpoint for the CLI. Without reflector flags it keeps its own
        configuration if it has one, and otherwise follows the actor (including the actor's flags)."""
        base = self.reflector() if self.reflector_is_explicit() and self.needs_base(over) else actor
        return self.with_overrides(base, over, "--reflector-")

    # -- construction ----------------------------------------------------------------------------

    def _transport(self) -> dict[str, Any]:
        return {"timeout_s": self._settings.llm_timeout_s, "max_retries": self._settings.llm_max_retries}

    def _select(self, name: str | None, default: str | None, role: Role) -> ProviderConfig:
        if name is not None:
            return self.get(name)
        if default is None:
            raise self._not_configured(role)
        return self.get(default)

    def _not_configured(self, role: Role = "actor") -> ConfigError:
        upper = role.upper()
        return ConfigError(
            f"no {role} model configured: set RFX_{upper}_MODEL with RFX_{upper}_BASE_URL or "
            f"RFX_{upper}_PROVIDER, name a default in RFX_CONFIG, or use the local model ('--model local')"
        )

    def _register_preset(self, name: str, preset: Preset, *, source: str) -> None:
        if preset.model is None:
            return
        self._models[name] = _config(
            source,
            name=name,
            base_url=preset.base_url,
            model=preset.model,
            provider=preset.name,
            **self._transport(),
        )

    def _preset(self, provider: str, source: str) -> Preset:
        if provider not in self._presets:
            known = ", ".join(sorted(self._presets))
            raise ConfigError(f"{source}: unknown provider {provider!r}: one of {known}")
        return self._presets[provider]

    def _register_entry(self, name: str, entry: ModelEntry) -> None:
        source = f"RFX_CONFIG models.{name}"
        preset = self._preset(entry.provider, source) if entry.provider else None
        base_url = entry.base_url or (preset.base_url if preset else None)
        if base_url is None:
            raise ConfigError(f"{source}: give base_url or provider")
        key_env = entry.api_key_env or (preset.api_key_env if preset else None)
        model = entry.model or (preset.model if preset else None) or name
        fields: dict[str, Any] = {
            **self._transport(),
            "name": name,
            "base_url": base_url,
            "model": model,
            "api_key": entry.api_key,
            "provider": entry.provider,
            "extra_headers": entry.extra_headers,
            "price_input_per_1m": entry.price_input_per_1m,
            "price_output_per_1m": entry.price_output_per_1m,
            "max_tokens_param": entry.max_tokens_param
            or (preset.max_tokens_param if preset else None)
            or "max_tokens",
        }
        if entry.timeout_s is not None:
            fields["timeout_s"] = entry.timeout_s
        if entry.max_retries is not None:
            fields["max_retries"] = entry.max_retries
        if entry.deadline_s is not None:
            fields["deadline_s"] = entry.deadline_s
        self._models[name] = _config(source, **fields)
        self._missing_key.pop(name, None)
        if entry.api_key is None and key_env is not None:
            self._missing_key[name] = key_env

    def _role_fields(self) -> tuple[_RoleFields, _RoleFields]:
        s = self._settings
        actor = _RoleFields(s.actor_provider, s.actor_base_url, s.actor_model, s.actor_api_key)
        if s.reflector_provider is not None or s.reflector_base_url is not None:
            model = s.reflector_model
            if model is None and s.reflector_provider is not None:
                model = self._preset(s.reflector_provider, "RFX_REFLECTOR_PROVIDER").model
            own_model = model or actor.model
            own = _RoleFields(s.reflector_provider, s.reflector_base_url, own_model, s.reflector_api_key)
            return actor, own
        if s.reflector_model is None and s.reflector_api_key is None:
            return actor, _RoleFields(None, None, None, None)
        return actor, _RoleFields(
            actor.provider,
            actor.base_url,
            s.reflector_model or actor.model,
            s.reflector_api_key or actor.api_key,
        )

    def _role_default(self, role: Role, fields: _RoleFields, file_default: str | None) -> str | None:
        if fields.is_set():
            return self._register_env(role, fields)
        if file_default is not None:
            if file_default not in self._models:
                known = ", ".join(self.names())
                raise ConfigError(
                    f"RFX_CONFIG defaults.{role} = {file_default!r} is not a model "
                    f"in the file: one of {known}"
                )
            return file_default
        return None

    def _register_env(self, role: Role, fields: _RoleFields) -> str:
        upper = role.upper()
        named = fields.model is not None and fields.provider is None and fields.base_url is None
        if named and fields.model in self._models:  # RFX_<ROLE>_MODEL names a model of the file, or `local`
            name = fields.model
            if fields.api_key is not None:
                self._models[name] = self._models[name].model_copy(update={"api_key": fields.api_key})
                self._missing_key.pop(name, None)
            return name
        preset = self._preset(fields.provider, f"RFX_{upper}_PROVIDER") if fields.provider else None
        base_url = fields.base_url or (preset.base_url if preset else None)
        if base_url is None:
            raise ConfigError(
                f"RFX_{upper}_MODEL={fields.model!r} is neither a configured model nor has "
                f"an endpoint: set RFX_{upper}_BASE_URL or RFX_{upper}_PROVIDER"
            )
        model = fields.model or (preset.model if preset else None)
        if model is None:
            raise ConfigError(f"RFX_{upper}_MODEL is required (the model id served at {base_url})")
        config = _config(
            f"RFX_{upper}_*",
            name=model,
            base_url=base_url,
            model=model,
            api_key=fields.api_key,
            provider=fields.provider,
            **self._transport(),
            max_tokens_param=preset.max_tokens_param if preset else "max_tokens",
        )
        name = model
        if role == "reflector" and name in self._models and self._models[name] != config:
            # same model id on another endpoint (or with another key) than the actor's: both must stay
            # selectable, and callers that cache clients by name must not mix them up
            name = f"reflector:{model}"
            config = config.model_copy(update={"name": name})
        self._models[name] = config
        self._missing_key.pop(name, None)
        if fields.api_key is None and preset is not None and preset.api_key_env is not None:
            self._missing_key[name] = preset.api_key_env
        return name


def chat_models(actor: ProviderConfig, reflector: ProviderConfig) -> tuple[ChatModel, ChatModel]:
    """The (actor, reflector) pair of chat models on these endpoints."""
    # Imported here: the openai SDK takes about a second to import, which every `rfx` command
    # (even --help) paid when this module imported it at the top.
    from app.llm.openai_chat import OpenAIChatModel

    return OpenAIChatModel(actor), OpenAIChatModel(reflector)


def build_chat_models(
    settings: Settings,
    *,
    actor_overrides: ModelOverrides | None = None,
    reflector_overrides: ModelOverrides | None = None,
) -> tuple[ChatModel, ChatModel]:
    """The (actor, reflector) pair for the CLI: configuration plus its flags."""
    registry = ModelRegistry.from_settings(settings)
    actor = registry.cli_actor(actor_overrides or ModelOverrides())
    return chat_models(actor, registry.cli_reflector(actor, reflector_overrides or ModelOverrides()))
