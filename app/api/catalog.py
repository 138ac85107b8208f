"""Model choice for requests: names only, resolved against the server's ModelRegistry.

A request names a model (or none for the server default); the endpoint URL and key always come from
the server's configuration (`RFX_ACTOR_*`, `RFX_REFLECTOR_*`, the `RFX_CONFIG` file), so a request
can never point the service at an address of its choosing (no SSRF).
"""

from __future__ import annotations

from app.errors import ConfigError, Unavailable
from app.llm.providers import ModelRegistry


class RegistryCatalog:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def actor(self, name: str | None) -> str:
        try:
            return self.registry.actor(name).name
        except ConfigError as exc:  # the server's configuration, not the caller's input
            raise Unavailable(f"this server cannot run episodes yet: {exc.detail}") from None

    def reflector(self, name: str | None) -> str:
        try:
            return self.registry.reflector(name).name
        except ConfigError as exc:
            raise Unavailable(f"this server cannot run episodes yet: {exc.detail}") from None
