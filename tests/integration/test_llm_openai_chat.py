"""OpenAIChatModel against the fake server over real HTTP: every LLM fault is a recorded outcome."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from app.llm import OpenAIChatModel
from app.llm.fake_script import Reply, Rule
from app.llm.fake_server import FakeLLMServer
from app.reflexion.codegen import extract_code
from app.reflexion.models import ChatMessage
from app.reflexion.ports import ChatModel
from tests.fixtures.services import free_port

MESSAGES = [
    ChatMessage(role="system", content="You write Python."),
    ChatMessage(role="user", content='def add(a, b):\n    """Add two numbers."""\n'),
]


async def test_reply_usage_cost_and_what_the_endpoint_received(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(model="gpt-4o-mini", replies=["```python\ndef add(a, b):\n    return a + b\n```"]))
    config = fake_llm.provider("gpt-4o-mini", api_key=SecretStr("sk-actor"), extra_headers={"X-Team": "rfx"})
    model = OpenAIChatModel(config)
    assert isinstance(model, ChatModel)
    completion = await model.complete(MESSAGES, temperature=0.3, top_p=0.9, max_tokens=64, seed=7)
    assert completion.outcome == "ok"
    assert completion.error is None
    assert completion.finish_reason == "stop"
    assert completion.text.startswith("```python")
    assert completion.model == "gpt-4o-mini"
    assert completion.usage.completion_tokens == 12  # 45 chars, the fake server's ~4 chars a token
    assert completion.usage.prompt_tokens > 0
    expected_cost = (completion.usage.prompt_tokens * 0.15 + 12 * 0.60) / 1_000_000
    assert completion.usage.cost_usd == pytest.approx(expected_cost)
    assert completion.latency_ms > 0
    [request] = fake_llm.requests
    assert request.model == "gpt-4o-mini"
    assert request.messages == [{"role": m.role, "content": m.content} for m in MESSAGES]
    assert request.params == {"temperature": 0.3, "top_p": 0.9, "max_tokens": 64, "seed": 7}
    assert request.api_key == "sk-actor"
    assert request.headers["x-team"] == "rfx"
    await model.aclose()


async def test_optional_params_are_not_sent_and_max_completion_tokens_is_configurable(
    fake_llm: FakeLLMServer,
) -> None:
    model = OpenAIChatModel(fake_llm.provider("m", max_tokens_param="max_completion_tokens"))
    await model.complete(MESSAGES)
    assert fake_llm.requests[0].params == {"temperature": 0.0, "max_completion_tokens": 1024}
    await model.aclose()


async def test_rate_limit_then_success_waits_for_retry_after(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(replies=[Reply.rate_limit(retry_after=1.5), "done"]))
    model = OpenAIChatModel(fake_llm.provider("m", max_retries=2))
    completion = await model.complete(MESSAGES)
    assert (completion.outcome, completion.text) == ("ok", "done")
    first, second = fake_llm.requests
    # Without Retry-After the SDK's first backoff is at most 0.5 s; the retry waited for the header.
    assert second.received_at - first.received_at >= 1.5
    await model.aclose()


async def test_a_retry_after_beyond_two_minutes_is_not_waited_for(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(replies=[Reply.rate_limit(retry_after=600), "never reached"]))
    model = OpenAIChatModel(fake_llm.provider("m", max_retries=3))
    completion = await model.complete(MESSAGES)
    assert completion.outcome == "error"
    assert completion.error is not None and "HTTP 429" in completion.error
    assert len(fake_llm.requests) == 1
    await model.aclose()


async def test_server_errors_past_the_retry_budget_end_as_error(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(replies=[Reply.server_error(500)]))
    model = OpenAIChatModel(fake_llm.provider("m", max_retries=2))
    completion = await model.complete(MESSAGES)
    assert completion.outcome == "error"
    assert completion.text == ""
    assert completion.error is not None
    assert "HTTP 500" in completion.error and "retry budget 2" in completion.error
    assert "scripted fault" in completion.error  # the provider's own message, not a traceback
    assert len(fake_llm.requests) == 3  # one try + two retries
    await model.aclose()


async def test_client_errors_are_not_retried(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(replies=[Reply(status=401)]))
    model = OpenAIChatModel(fake_llm.provider("m", max_retries=3))
    completion = await model.complete(MESSAGES)
    assert completion.outcome == "error"
    assert completion.error is not None and "HTTP 401" in completion.error
    assert "retry budget" not in completion.error
    assert len(fake_llm.requests) == 1
    await model.aclose()


async def test_a_hung_endpoint_times_out_per_attempt(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(replies=[Reply.hang(10)]))
    model = OpenAIChatModel(fake_llm.provider("m", timeout_s=0.3, max_retries=1))
    completion = await model.complete(MESSAGES)
    assert completion.outcome == "error"
    assert completion.error is not None and "timeout" in completion.error and "2 attempts" in completion.error
    assert len(fake_llm.requests) == 2
    await model.aclose()


async def test_the_deadline_bounds_the_whole_call_including_retries(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(replies=[Reply.rate_limit(retry_after=30)]))
    model = OpenAIChatModel(fake_llm.provider("m", max_retries=5, deadline_s=0.5))
    completion = await model.complete(MESSAGES)
    assert completion.outcome == "error"
    assert completion.error is not None and "deadline" in completion.error
    assert len(fake_llm.requests) == 1  # gave up during the 30 s Retry-After wait, not after it
    await model.aclose()


async def test_unreachable_endpoint_is_an_error_outcome() -> None:
    port = free_port()  # nothing listens there
    model = OpenAIChatModel(FakeLLMServer(port=port).provider("m", max_retries=0))
    completion = await model.complete(MESSAGES)
    assert completion.outcome == "error"
    assert completion.error is not None and f"cannot reach http://127.0.0.1:{port}/v1" in completion.error
    await model.aclose()


@pytest.mark.parametrize(
    ("reply", "outcome", "message"),
    [
        (Reply.empty(), "empty", "empty reply"),
        (Reply(text="   \n"), "empty", "empty reply"),
        (Reply.malformed(), "malformed", "not valid JSON"),
        (Reply(fault="no_choices"), "malformed", "no choices"),
    ],
)
async def test_unusable_bodies_are_recorded_outcomes(
    fake_llm: FakeLLMServer, reply: Reply, outcome: str, message: str
) -> None:
    fake_llm.script(Rule(replies=[reply]))
    model = OpenAIChatModel(fake_llm.provider("m"))
    completion = await model.complete(MESSAGES)
    assert completion.outcome == outcome
    assert completion.error is not None and message in completion.error
    assert len(fake_llm.requests) == 1  # a bad body is an answer, not a reason to retry
    await model.aclose()


async def test_a_reply_cut_by_max_tokens_is_truncated_and_keeps_its_text(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(replies=[Reply.truncated("```python\ndef add(a, b):\n    return a +")]))
    model = OpenAIChatModel(fake_llm.provider("m"))
    completion = await model.complete(MESSAGES, max_tokens=16)
    assert completion.outcome == "truncated"
    assert completion.finish_reason == "length"
    assert completion.text.endswith("return a +")
    assert completion.error is not None and "max_tokens" in completion.error
    await model.aclose()


async def test_a_reply_without_code_is_ok_for_the_llm_and_none_for_extraction(
    fake_llm: FakeLLMServer,
) -> None:
    fake_llm.script(Rule(replies=["I am sorry, I cannot help with that."]))
    model = OpenAIChatModel(fake_llm.provider("m"))
    completion = await model.complete(MESSAGES)
    assert completion.outcome == "ok"
    assert extract_code(completion.text, "add", MESSAGES[1].content) is None
    await model.aclose()


async def test_missing_usage_is_estimated_so_budgets_still_count(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(replies=[Reply(text="x" * 40, omit_usage=True)]))
    model = OpenAIChatModel(fake_llm.provider("m"))
    completion = await model.complete(MESSAGES)
    assert completion.usage.completion_tokens == 10
    assert completion.usage.prompt_tokens == sum(-(-len(m.content) // 4) for m in MESSAGES)
    await model.aclose()


async def test_cancellation_propagates(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(replies=[Reply.hang(10)]))
    model = OpenAIChatModel(fake_llm.provider("m", timeout_s=30))
    task = asyncio.create_task(model.complete(MESSAGES))
    for _ in range(1000):  # until the request is in flight
        if fake_llm.requests:
            break
        await asyncio.sleep(0.01)
    assert fake_llm.requests
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await model.aclose()
