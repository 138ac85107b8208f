"""Wiring for a worker process: the adapters every episode shares, and one call to run_episode.

The judge pool, memory, prompt book and model clients are built once per process (a judge pool and
an HTTP connection pool per model are expensive to create); per episode only the actor and reflector
are looked up by the names stored in its record, in this server's own model registry.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aredis

from app.judge import DockerJudge
from app.llm.openai_chat import OpenAIChatModel
from app.llm.providers import ModelRegistry
from app.memory.keys import Keys
from app.memory.redis_memory import RedisMemory
from app.prompts import FilePromptBook
from app.queue.connection import redis_client
from app.queue.worker import Worker
from app.reflexion.loop import run_episode
from app.reflexion.models import Episode
from app.reflexion.ports import EventSink, Judge
from app.settings import Settings
from app.wiring import Adapters, open_judge

log = logging.getLogger("rfx.worker")


class EngineRunner:
    def __init__(self, settings: Settings, client: aredis.Redis, judge: Judge) -> None:
        self.registry = ModelRegistry.from_settings(settings)
        memory = RedisMemory(client, Keys(settings.key_prefix), episode_ttl_s=settings.episode_ttl_s)
        self.adapters = Adapters(judge=judge, memory=memory, prompts=FilePromptBook())
        self._models: dict[str, OpenAIChatModel] = {}

    def _model(self, name: str | None, role: str) -> OpenAIChatModel:
        config = self.registry.reflector(name) if role == "reflector" else self.registry.actor(name)
        model = self._models.get(config.name)
        if model is None:
            model = self._models[config.name] = OpenAIChatModel(config)
        return model

    async def __call__(self, episode: Episode, sink: EventSink) -> Episode:
        actor = self._model(episode.actor_model or None, "actor")
        reflector = self._model(episode.reflector_model or None, "reflector")
        return await run_episode(episode, self.adapters.episode_deps(actor, reflector, sink))

    async def aclose(self) -> None:
        for model in self._models.values():
            await model.aclose()


async def start_worker(
    settings: Settings,
    stop: asyncio.Event,
    *,
    concurrency: int | None = None,
    consumer: str | None = None,
    judge: Judge | None = None,
) -> None:
    """Run one worker until `stop` is set (then drain and hand back, see Worker.run).

    A given `judge` is used and left open (tests share labelled judges); otherwise the worker opens
    its own pool from settings and closes it at the end.
    """
    client = redis_client(settings)
    own_judge: DockerJudge | None = None
    if judge is None:
        judge = own_judge = await open_judge(settings)
    runner = EngineRunner(settings, client, judge)
    try:
        await Worker(client, settings, runner, concurrency=concurrency, consumer=consumer).run(stop)
    finally:
        await runner.aclose()
        if own_judge is not None:
            await own_judge.aclose()
        await client.aclose()
