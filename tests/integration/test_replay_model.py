"""The benchmark's replay answers only an identical request, and from the record (issue 22 item 5).

Real HTTP to the fake OpenAI-compatible server through the real `openai` client: what reached the
server shows whether a request was replayed or asked.
"""

from __future__ import annotations

from pathlib import Path

from app.benchmark.replay import ReplayingModel, ReplyLog
from app.llm.openai_chat import OpenAIChatModel
from app.reflexion.models import ChatMessage
from tests.fixtures.llm import FakeLLMServer

ASK = [ChatMessage(role="user", content="Write add(a, b).")]


async def test_only_an_identical_request_is_replayed(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.script({"pattern": "add", "replies": ["first reply", "second reply"]})
    model = OpenAIChatModel(fake_llm.provider("m"))
    recorder = ReplayingModel(model)  # nothing recorded yet: it asks, and keeps what it asked
    recorded = await recorder.complete(ASK, temperature=0.0, seed=7)
    assert recorded.text == "first reply" and len(fake_llm.requests) == 1

    log = ReplyLog(tmp_path)
    log.append("T/1", "single-1", recorder.asked)
    log.append("T/1", "single-0", [(k, c.model_copy(update={"text": "stale"})) for k, c in recorder.asked])
    log.path.write_text(log.path.read_text() + '{"task_id": "T/1", "epis')  # a torn last line
    replies = log.of_episodes({"T/1": "single-1"})["T/1"]

    replaying = ReplayingModel(model, replies)
    again = await replaying.complete(ASK, temperature=0.0, seed=7)
    assert (again.text, again.replay_of, again.usage) == ("first reply", "single-1", recorded.usage)
    assert len(fake_llm.requests) == 1 and replaying.replayed == 1

    for kwargs in ({"temperature": 0.3, "seed": 7}, {"temperature": 0.0, "seed": 8}, {"max_tokens": 64}):
        asked = await replaying.complete(ASK, **kwargs)  # type: ignore[arg-type]
        assert asked.replay_of is None and asked.text == "second reply"
    other = [ChatMessage(role="user", content="Write add(a, b) please.")]
    assert (await replaying.complete(other, temperature=0.0, seed=7)).replay_of is None
    assert len(fake_llm.requests) == 5 and replaying.replayed == 1
    await model.aclose()
