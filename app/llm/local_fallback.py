"""The bundled local model as the fallback actor (or a named local reflector): start or reuse its
server and tell the user so on stderr.

Used by the wiring (`rfx run`, `rfx bench`) and by `rfx serve`/`rfx worker`/`rfx mcp`; it lives
apart from the CLI's `rfx model` commands so that the wiring never imports the command line.
"""

from __future__ import annotations

from rich.console import Console

from app.errors import ConfigError
from app.llm import local_model
from app.llm.bundled_defaults import BundledDefaults, defaults_for
from app.llm.local_model import LocalServer
from app.llm.presets import local_port, local_size_of
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
    before); otherwise the same settings with the local model, started or reused, as the actor.
    Either way the reflector the actor's measured defaults name is started too (start_default_reflector)."""
    if not ModelRegistry.from_settings(settings).is_configured():
        if not local_model.is_installed(settings.local_model_size, data_dir=settings.data_dir):
            return settings
        use_local_model(settings)
        settings = settings.model_copy(update={"actor_model": "local"})
    start_default_reflector(settings)
    return settings


def start_default_reflector(settings: Settings) -> None:
    """The workers' half of a bundled actor's defaults: when they name a reflector of another bundled
    size and the configuration names none, its server is started or reused like the actor's, so the
    episodes that take those defaults find it. Without its weights those episodes take the actor-alone
    defaults (bundled_defaults.applicable), and this says so once, at start."""
    registry = ModelRegistry.from_settings(settings)
    try:
        actor = registry.actor()
    except ConfigError:  # nothing to run yet: the episodes report it
        return
    defaults = defaults_for(actor.provider, actor.model)
    if defaults is None or defaults.reflector is None or registry.reflector_is_explicit():
        return
    reason = f"{actor.name}'s measured defaults reflect with {defaults.reflector}"
    size = local_size_of(defaults.reflector)
    if size is not None and local_model.is_installed(size, data_dir=settings.data_dir):
        use_local_model(settings, reason, size, "reflector")
        return
    instead = f"`{defaults.alone.run}`'s" if defaults.alone is not None else "the general"
    _err.print(
        f"rfx: {reason}, which is not installed (`rfx model install --size {size}`): episodes that leave"
        f" the strategy unset take {instead} defaults instead",
        highlight=False,
    )


def say_bundled_defaults(
    actor: str, defaults: BundledDefaults, reflector: str | None, passed_over: BundledDefaults | None
) -> None:
    """Say which measured defaults an episode of a bundled actor takes, as the fallback says which
    model it uses: a user who left the strategy unset should not have to guess what ran. Named: the
    strategy, the settings that differ from the general defaults, the reflector they brought, and
    the measured winner `passed_over` when its reflector is not installed here."""
    general = EpisodeConfig()
    settings = ", ".join(
        f"{k} {v}" for k, v in defaults.settings.items() if k == "strategy" or getattr(general, k) != v
    )
    brought = f", reflector {reflector}" if reflector else ""
    why = ""
    if passed_over is not None and passed_over.reflector is not None:
        why = (
            f"; the winner `{passed_over.run}` reflects with {passed_over.reflector}, not installed here"
            f" (`rfx model install --size {local_size_of(passed_over.reflector)}`)"
        )
    _err.print(
        f"rfx: {actor} runs its measured defaults for what the flags leave unset: {settings}{brought}"
        f" (the held-out run's `{defaults.run}`, docs/performance.md){why}",
        highlight=False,
    )
