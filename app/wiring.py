"""Building the adapters from settings, for the `rfx` CLI, the API, the worker and the benchmark.

The domain (app/reflexion) only knows ports; this module is where concrete adapters are chosen:
models from configuration plus command-line overrides, the Docker judge, Redis memory, the prompt
files. Failures to reach a dependency surface as app.errors exceptions (one line on the CLI).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app.benchmark.datasets import humaneval_task
from app.benchmark.visible_tests import with_visible_tests
from app.errors import InvalidInput
from app.llm import ModelOverrides, ModelRegistry, build_chat_models
from app.llm.bundled_defaults import defaults_for, with_bundled_defaults
from app.llm.presets import LOCAL, local_size_of
from app.llm.providers import chat_models
from app.memory.redis_memory import RedisMemory
from app.prompts import default_prompt_book
from app.reflexion.loop import EpisodeDeps
from app.reflexion.models import EpisodeConfig, Task
from app.reflexion.ports import ChatModel, EventSink, Judge, PromptBook
from app.settings import Settings

if TYPE_CHECKING:  # the Docker client loads only when a judge is opened
    from app.judge import DockerJudge

HUMANEVAL_SCHEME = "humaneval:"


def load_task(spec: str) -> Task:
    """A Task from `humaneval:HumanEval/N` or from a JSON file holding one Task object.

    HumanEval tasks get visible tests derived from their docstring examples, so that by default the
    model learns from tests it may see, never from the hidden grading tests.
    """
    if spec.startswith(HUMANEVAL_SCHEME):
        return with_visible_tests(humaneval_task(spec.removeprefix(HUMANEVAL_SCHEME)))
    path = Path(spec)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read task file {spec}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"task file {spec}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"task file {spec}: expected a JSON object with id, prompt, entry_point, tests")
    try:
        return Task.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"task file {spec}: {first_error(exc)}") from None


def episode_config(**fields: Any) -> EpisodeConfig:
    """EpisodeConfig from command-line values (None means "use the default")."""
    try:
        return EpisodeConfig(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise InvalidInput(first_error(exc, prefix="--")) from None


def first_error(exc: ValidationError, prefix: str = "") -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]).replace("_", "-" if prefix else "_")
    return f"{prefix}{where}: {error['msg']}" if where else str(error["msg"])


def resolve_default_models(settings: Settings, actor: ModelOverrides) -> ModelOverrides:
    """The actor's overrides once it is known that some actor model exists.

    This is the hook where the bundled local model takes over when nothing is configured: it is
    installed if needed and its server started (or reused) on demand, and the user is told so.
    """
    from app.llm.local_fallback import use_local_model

    registry = ModelRegistry.from_settings(settings)
    if actor.empty() and not registry.is_configured():
        use_local_model(settings)
        return ModelOverrides(model=LOCAL)
    chosen = actor.model if not actor.empty() else registry.actor().name
    if actor.base_url is None and chosen == LOCAL:  # `--model local` / RFX_ACTOR_MODEL=local
        use_local_model(settings, "the local model is selected")
    elif actor.base_url is None and (size := local_size_of(chosen)) is not None:  # `--model local-0.5b`
        use_local_model(settings, f"the local model {chosen} is selected", size)
    return actor


def start_local_reflector(settings: Settings, actor: ModelOverrides, reflector: ModelOverrides) -> None:
    """A reflector named `local-<size>` (flag, RFX_REFLECTOR_MODEL or the config file's default) gets
    its server started or reused on that size's own port, so a 0.5B actor and a 1.5B reflector run
    side by side. A reflector that follows the actor needs nothing more."""
    from app.llm.local_fallback import use_local_model

    if reflector.base_url is not None:
        return
    name = reflector.model
    if name is None:
        registry = ModelRegistry.from_settings(settings)
        name = registry.reflector().name if registry.reflector_is_explicit() else None
    size = local_size_of(name)
    if size is not None and name != actor.model:
        use_local_model(settings, f"the reflector {name} is selected", size, "reflector")


def build_models(
    settings: Settings, actor: ModelOverrides, reflector: ModelOverrides
) -> tuple[ChatModel, ChatModel]:
    actor = resolve_default_models(settings, actor)
    start_local_reflector(settings, actor, reflector)
    return build_chat_models(settings, actor_overrides=actor, reflector_overrides=reflector)


def build_episode_models(
    settings: Settings, actor: ModelOverrides, reflector: ModelOverrides, config: EpisodeConfig
) -> tuple[ChatModel, ChatModel, EpisodeConfig]:
    """`rfx run`: build_models, and when the actor is a bundled size, its measured defaults
    (app/llm/bundled_defaults.py) for the settings the command line left unset, and for the reflector
    when no flag and no configuration names one (its server started like a named local reflector)."""
    from app.llm.local_fallback import say_bundled_defaults
    from app.llm.local_model import installed_here

    actor = resolve_default_models(settings, actor)
    registry = ModelRegistry.from_settings(settings)
    endpoint = registry.cli_actor(actor)
    reflector_chosen = not reflector.empty() or registry.reflector_is_explicit()
    measured = defaults_for(endpoint.provider, endpoint.model)
    config, default_reflector, defaults = with_bundled_defaults(
        config, measured, reflector_chosen=reflector_chosen, runs_here=installed_here(settings.data_dir)
    )
    if defaults is not None:
        passed_over = measured if defaults is not measured else None
        say_bundled_defaults(endpoint.name, defaults, default_reflector, passed_over)
    if default_reflector is not None:
        reflector = ModelOverrides(model=default_reflector)
    start_local_reflector(settings, actor, reflector)
    models = chat_models(endpoint, registry.cli_reflector(endpoint, reflector))
    return (*models, config)


@dataclass
class Adapters:
    """The non-model ports of one host process, opened together and closed together."""

    judge: Judge
    memory: RedisMemory
    prompts: PromptBook

    def episode_deps(self, actor: ChatModel, reflector: ChatModel, events: EventSink) -> EpisodeDeps:
        """What one episode runs on: these shared ports plus its models and its event sink."""
        return EpisodeDeps(
            actor=actor,
            reflector=reflector,
            judge=self.judge,
            memory=self.memory,
            events=events,
            prompts=self.prompts,
        )


@contextlib.asynccontextmanager
async def open_adapters(settings: Settings, *, need_memory: bool = True) -> AsyncIterator[Adapters]:
    """Redis memory (checked first: it is the cheapest to find missing) and the Docker judge."""
    memory = RedisMemory.from_settings(settings)
    try:
        if need_memory:
            await memory.ping()
        judge = await open_judge(settings)
        try:
            yield Adapters(judge=judge, memory=memory, prompts=default_prompt_book())
        finally:
            await judge.aclose()
    finally:
        await memory.aclose()


async def open_judge(settings: Settings) -> DockerJudge:
    """A started judge pool from settings (the worker's and the API's own /v1/judge pool)."""
    from app.judge import DockerJudge, JudgeConfig  # the Docker client loads only when used

    judge = DockerJudge(JudgeConfig.from_settings(settings))
    await judge.start()
    return judge


async def close_models(*models: ChatModel) -> None:
    """Close the HTTP pools of the models that have one (each distinct model once)."""
    seen: set[int] = set()
    for model in models:
        closer = getattr(model, "aclose", None)
        if closer is not None and id(model) not in seen:
            seen.add(id(model))
            await closer()
