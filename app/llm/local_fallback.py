"""The bundled local model as the fallback actor (or a named local reflector): start or reuse its
server and tell the user so on stderr.

Used by the wiring (`rfx run`, `rfx bench`) and by `rfx serve`/`rfx worker`/`rfx mcp`; it lives
apart from the CLI's `rfx model` commands so that the wiring never imports the command line.
"""

from __future__ import annotations

from rich.console import Console

from app.errors import ConfigError
from app.llm import local_model
from app.llm.bundled_defaults import BundledDefaults
from app.llm.local_model import LocalServer
from app.llm.presets import local_port
from app.llm.providers import ModelRegistry
from app.reflexion.models import EpisodeConfig
from app.settings import Settings

_err = Console(stderr=True)


def use_local_model(
    settings: Settings, reason: str = "no model configured", size: str | None = None, role: str = "actor"
) -> LocalServer:
    """Fall back to the bundled model when it is installed: start or reuse its server, and say so.

    Called by `rfx run`, `rfx bench` and `rfx serve`/`rfx worker` when no actor endpoint is
    configured, so that a user without an API key gets a real model. It says so on stderr, because
    silently choosing a 0.5B model for someone who forgot a variable would mislead them. A model
    that is not installed is not fetched here (a gigabyte and a compiler run are the user's call,
    `rfx model install` or `make demo`): that stays a one-line configuration error.
    """
    size = size or settings.local_model_size
    flag = "--" if role == "actor" else f"--{role}-"
    port = local_port(settings.local_model_port, settings.local_model_size, size)
    alias = local_model.alias_for(size)
    installed = local_model.is_installed(size, data_dir=settings.data_dir)
    if not installed and alias not in (local_model.served_models(port) or []):  # not already served
        raise ConfigError(
            f"{reason}: set RFX_{role.upper()}_BASE_URL/RFX_{role.upper()}_MODEL or pass "
            f"{flag}base-url/{flag}model, or run `rfx model install --size {size}` to use the bundled "
            "local model"
        )
    _err.print(
        f"rfx: {reason}: using the bundled local model {alias} at {local_model.base_url(port)} "
        f"(set RFX_{role.upper()}_BASE_URL and RFX_{role.upper()}_MODEL, or {flag}base-url/{flag}model, "
        "to use another)",
        highlight=False,
    )
    server = local_model.ensure_running(size, port, data_dir=settings.data_dir)
    stopper = f"'rfx model stop --port {port}' stops it"
    how = f"started (pid {server.pid}; {stopper})" if server.started else "already running"
    _err.print(f"rfx: local model server {how}", highlight=False)
    return server


def configured_or_local(settings: Settings) -> Settings:
    """For `rfx serve --with-worker` and `rfx worker`: the settings as they are when an actor is
    configured or the local model is not installed (then episodes report the missing model, as
    before); otherwise the same settings with the local model, started or reused, as the actor."""
    if ModelRegistry.from_settings(settings).is_configured():
        return settings
    if not local_model.is_installed(settings.local_model_size, data_dir=settings.data_dir):
        return settings
    use_local_model(settings)
    return settings.model_copy(update={"actor_model": "local"})


def say_bundled_defaults(actor: str, defaults: BundledDefaults) -> None:
    """Say which measured defaults an episode of a bundled actor takes, as the fallback says which
    model it uses: a user who left the strategy unset should not have to guess what ran. Named: the
    strategy and the settings that differ from the general defaults."""
    general = EpisodeConfig()
    settings = ", ".join(
        f"{k} {v}" for k, v in defaults.settings.items() if k == "strategy" or getattr(general, k) != v
    )
    reflector = f", reflector {defaults.reflector}" if defaults.reflector else ""
    _err.print(
        f"rfx: {actor} runs its measured defaults for what the flags leave unset: {settings}{reflector}"
        f" (the held-out run's `{defaults.run}`, docs/performance.md)",
        highlight=False,
    )
