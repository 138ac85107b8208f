"""Replaying `single`'s model replies into the feedback strategies, so flips measure feedback alone.

Why: a feedback strategy's first attempt is the same request as `single`'s (same prompt, model,
temperature and seed), so it should get the same reply. Asked again it may not: a local server that
reuses a cached prompt prefix computes in another order, and at any temperature a different reply
moves problems in or out of "first answer wrong" for reasons that have nothing to do with feedback.
So the runner records every reply `single` got (DIR/replies.jsonl, next to its episode) and answers
an identical request of a feedback strategy on the same problem from that record, marked with
`replay_of` (the single episode's id) and its recorded latency. Requests that differ in anything are
asked for real, so nothing but an identical request is ever replayed. `best_of_n` is never replayed:
its samples stay independent for pass@k.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from app.reflexion.models import ChatMessage, Completion, Strict
from app.reflexion.ports import ChatModel
from app.reflexion.vocabulary import StrategyName

REPLIES_FILE = "replies.jsonl"
NEVER_REPLAYED: frozenset[StrategyName] = frozenset({"single", "best_of_n"})


def request_key(
    model: str,
    messages: list[ChatMessage],
    *,
    temperature: float,
    top_p: float | None,
    max_tokens: int,
    seed: int | None,
) -> str:
    """A digest of everything that decides a reply: two requests with equal keys are the same request."""
    body = {
        "model": model,
        "messages": [m.model_dump() for m in messages],
        "temperature": temperature,
        "top_p": top_p,
        "max_tokens": max_tokens,
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class RecordedReply(Strict):
    task_id: str
    episode_id: str
    key: str
    completion: Completion


@dataclass
class ReplayingModel:
    """An actor that answers a request equal to a recorded one from the record, asks the model
    otherwise, and keeps every (request, reply) it asked for (`single`'s, for the replies file)."""

    inner: ChatModel
    recorded: dict[str, RecordedReply] = field(default_factory=dict)
    asked: list[tuple[str, Completion]] = field(default_factory=list)
    replayed: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        temperature: float = 0.0,
        top_p: float | None = None,
        max_tokens: int = 1024,
        seed: int | None = None,
    ) -> Completion:
        key = request_key(
            self.name, messages, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed
        )
        found = self.recorded.get(key)
        if found is not None:
            self.replayed += 1
            return found.completion.model_copy(update={"replay_of": found.episode_id})
        completion = await self.inner.complete(
            messages, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed
        )
        self.asked.append((key, completion))
        return completion


class ReplyLog:
    """DIR/replies.jsonl: the replies `single`'s episodes got, appended before the episode itself."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / REPLIES_FILE

    def append(self, task_id: str, episode_id: str, replies: list[tuple[str, Completion]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            RecordedReply(task_id=task_id, episode_id=episode_id, key=key, completion=c).model_dump_json()
            + "\n"
            for key, c in replies
        )
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def of_episodes(self, episode_ids: dict[str, str]) -> dict[str, dict[str, RecordedReply]]:
        """Per task id, the replies of the one episode named for it (a rerun's older replies are
        ignored); torn or unreadable lines are skipped, which only means those requests are asked."""
        found: dict[str, dict[str, RecordedReply]] = {}
        if not self.path.exists():
            return found
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                reply = RecordedReply.model_validate_json(line)
            except ValidationError:
                continue
            if episode_ids.get(reply.task_id) == reply.episode_id:
                found.setdefault(reply.task_id, {})[reply.key] = reply
        return found
