"""Model choice for requests: names only, resolved against the server's ModelRegistry.

A request names a model (or none for the server default); the endpoint URL and key always come from
the server's configuration (`RFX_ACTOR_*`, `RFX_REFLECTOR_*`, the `RFX_CONFIG` file), so a request
can never point the service at an address of its choosing (no SSRF).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.errors import ConfigError, Unavailable
from app.llm.bundled_defaults import defaults_for, with_bundled_defaults
from app.llm.providers import ModelRegistry
from app.reflexion.models import EpisodeConfig


class RegistryCatalog:
    def __init__(self, registry: ModelRegistry, runs_here: Callable[[str], bool]) -> None:
        """runs_here: whether a bundled model a default names can run on this host (its weights are
        installed), else the actor's defaults without it apply (bundled_defaults.applicable)."""
        self.registry = registry
        self.runs_here = runs_here

    def actor(self, name: str | None) -> str:
        try:
            return self.registry.actor(name).name
        except ConfigError as exc:  # the server's configuration, not the caller's input
            raise Unavailable(f"this server cannot run episodes yet: {exc.detail}") from None

    def names(self) -> list[str]:
        return self.registry.names()

    def reflector(self, name: str | None) -> str:
        try:
            return self.registry.reflector(name).name
        except ConfigError as exc:
            raise Unavailable(f"this server cannot run episodes yet: {exc.detail}") from None

    def choose(
        self, actor: str | None, reflector: str | None, config: EpisodeConfig
    ) -> tuple[str, str, EpisodeConfig]:
        """The episode's actor, reflector and config: the request's choices, and for what it left
        unset the actor's bundled defaults (app/llm/bundled_defaults.py), then the server's."""
        actor_name = self.actor(actor)
        chosen = self.registry.get(actor_name)
        reflector_chosen = reflector is not None or self.registry.reflector_is_explicit()
        config, default_reflector, _ = with_bundled_defaults(
            config,
            defaults_for(chosen.provider, chosen.model),
            reflector_chosen=reflector_chosen,
            runs_here=self.runs_here,
        )
        return actor_name, self.reflector(reflector or default_reflector), config


def document_models(openapi: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Name the configured models in the OpenAPI schema, so clients (and fuzzers) see the choices."""
    schema = openapi.get("components", {}).get("schemas", {}).get("ModelRef")
    if schema is not None and names:
        schema["properties"]["model"] = {
            "anyOf": [{"type": "string", "enum": names}, {"type": "null"}],
            "title": "Model",
            "description": "a model this server is configured with; null: its default",
        }
    return openapi
