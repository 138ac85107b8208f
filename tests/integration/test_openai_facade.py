"""The OpenAI-compatible facade, driven by the official `openai` SDK against `rfx serve --with-worker`.

Sync, async and streaming calls get a judged, repaired function from the fake model (which fails
first and fixes the code after a lesson); every error status arrives as the SDK's own exception.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest

from tests.integration.apiserver import BAD, GOOD, LESSON, script_fail_then_fix, task_body
from tests.integration.served import (
    QUOTA,
    Served,
    served_fixture,  # noqa: F401 - the module's server
    wait_status,
)

ADD_TASK = '''Write this function, please.

```python
def add(a, b):
    """Return a + b."""
```

```python
assert add(1, 2) == 3
assert add(-1, 1) == 0
```
'''
DOCSTRING_TASK = 'def add(a, b):\n    """Return a + b.\n\n    >>> add(2, 3)\n    5\n    """\n'
GOOD_CODE = "def add(a, b):\n    return a + b"


def client(served: Served, tenant: str = "alice", **kw: Any) -> openai.OpenAI:
    key = kw.pop("api_key", None) or served.headers(tenant)["Authorization"].split()[1]
    kw.setdefault("timeout", 60)
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=key, max_retries=0, **kw)


def test_models_are_reflexion_and_each_configured_model(served: Served) -> None:
    ids = [m.id for m in client(served).models.list()]
    assert ids[0] == "reflexion" and "reflexion/fake-actor" in ids  # the registry also names `local`
    assert all(i.startswith("reflexion/") for i in ids[1:])


def test_sync_completion_returns_the_repaired_code(served: Served, fake_llm: Any) -> None:
    script_fail_then_fix(fake_llm)
    reply = client(served).chat.completions.create(
        model="reflexion",
        messages=[
            {"role": "system", "content": "Prefer one-line bodies."},
            {"role": "user", "content": ADD_TASK},
        ],
        temperature=0.25,
        seed=7,
        top_p=0.9,
        max_tokens=300,
    )
    assert reply.choices[0].message.content == f"```python\n{GOOD_CODE}\n```"
    assert reply.choices[0].finish_reason == "stop"
    rfx = reply.model_extra["rfx"]  # type: ignore[index]
    assert rfx["status"] == "succeeded" and rfx["stop_reason"] == "solved"
    assert rfx["tests_source"] == "message" and rfx["verified"] is True
    assert [t["verdict"] for t in rfx["trials"]] == ["failed", "passed"]
    assert rfx["trials"][1] == {
        "trial": 2,
        "verdict": "passed",
        "passed": 2,
        "total": 2,
        "failing": [],
        "graded": "passed",
    }
    # usage counts every model call: two actor replies and one lesson
    calls = [r for r in fake_llm.requests if r.path.endswith("/chat/completions")]
    assert len(calls) == 3
    episode = httpx.get(
        f"{served.url}/v1/episodes/{rfx['episode_id']}", headers=served.headers("alice"), timeout=10
    ).json()
    assert reply.usage is not None
    assert reply.usage.total_tokens == sum(
        a["usage"]["prompt_tokens"] + a["usage"]["completion_tokens"] for a in episode["attempts"]
    ) + _lesson_tokens(episode)
    assert reply.usage.prompt_tokens == episode["usage"]["prompt_tokens"] > 0
    # the system message reached the actor (not the reflector); the parameters reached the model
    actor_calls = [
        r
        for r in calls
        if "Complete the Python function" in r.last_user or "previous implementation" in r.last_user
    ]
    assert all("Prefer one-line bodies." in r.messages[0]["content"] for r in actor_calls)
    reflector = [r for r in calls if r not in actor_calls]
    assert reflector and all("Prefer one-line" not in str(r.messages) for r in reflector)
    # the first attempt is drawn with the request's settings; a retry explores (its own temperature
    # from the episode's schedule and a new seed)
    first, *retries = actor_calls
    assert first.params.get("temperature") == 0.25 and first.params.get("seed") == 7
    assert retries and all(
        r.params.get("temperature") in episode["config"]["retry_temperatures"] and r.params.get("seed") != 7
        for r in retries
    )
    assert episode["config"]["feedback"] == "visible" and episode["task"]["entry_point"] == "add"
    assert episode["config"]["top_p"] == 0.9 and episode["config"]["max_tokens"] == 300
    assert all(r.params.get("top_p") == 0.9 for r in actor_calls)
    assert episode["config"]["instructions"] == "Prefer one-line bodies."


def _lesson_tokens(episode: dict[str, Any]) -> int:
    attempts = sum(a["usage"]["prompt_tokens"] + a["usage"]["completion_tokens"] for a in episode["attempts"])
    return int(episode["usage"]["prompt_tokens"] + episode["usage"]["completion_tokens"] - attempts)


async def test_async_completion_with_rfx_tests_in_extra_body(served: Served, fake_llm: Any) -> None:
    script_fail_then_fix(fake_llm)
    key = served.headers("bob")["Authorization"].split()[1]
    async with openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key=key, max_retries=0) as aclient:
        reply = await aclient.chat.completions.create(
            model="reflexion/fake-actor",
            messages=[{"role": "user", "content": DOCSTRING_TASK}],
            extra_body={
                "rfx": {
                    "tests": "def check(candidate):\n    assert candidate(4, 5) == 9\n",
                    "config": {"max_trials": 2},
                }
            },
        )
    rfx = reply.model_extra["rfx"]  # type: ignore[index]
    assert reply.choices[0].message.content == f"```python\n{GOOD_CODE}\n```"
    assert rfx["tests_source"] == "rfx" and rfx["verified"] is True
    assert "no hidden ones" in rfx["note"]
    assert [t["graded"] for t in rfx["trials"]] == ["failed", "passed"]


def test_docstring_examples_are_the_tests(served: Served, fake_llm: Any) -> None:
    script_fail_then_fix(fake_llm)
    reply = client(served).chat.completions.create(
        model="reflexion", messages=[{"role": "user", "content": DOCSTRING_TASK}]
    )
    rfx = reply.model_extra["rfx"]  # type: ignore[index]
    assert rfx["tests_source"] == "docstring" and rfx["status"] == "succeeded"
    assert rfx["trials"][0]["failing"] == ["assert add(2, 3) == 5"]


def test_without_tests_the_result_is_unverified(served: Served, fake_llm: Any) -> None:
    fake_llm.script(
        {"pattern": "unit tests", "replies": ["```python\nassert add(1, 1) == 2\n```"]},
        {"pattern": "Complete the Python function", "replies": [GOOD]},
        default=LESSON,
    )
    reply = client(served).chat.completions.create(
        model="reflexion", messages=[{"role": "user", "content": 'def add(a, b):\n    """Sum."""\n'}]
    )
    rfx = reply.model_extra["rfx"]  # type: ignore[index]
    assert rfx["tests_source"] == "none" and rfx["verified"] is False and "unverified" in rfx["note"]
    assert rfx["trials"][0]["verdict"] == "passed" and rfx["trials"][0]["total"] == 1
    assert reply.choices[0].message.content == f"```python\n{GOOD_CODE}\n```"


def test_streaming_sends_progress_per_trial_then_the_code(served: Served, fake_llm: Any) -> None:
    script_fail_then_fix(fake_llm)
    chunks = list(
        client(served).chat.completions.create(
            model="reflexion",
            messages=[{"role": "user", "content": ADD_TASK}],
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"rfx": {"progress_in_content": True}},
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    trials = [
        c.model_extra["rfx"]["trial"] for c in chunks if "trial" in (c.model_extra or {}).get("rfx", {})
    ]
    assert [t["verdict"] for t in trials] == ["failed", "passed"]
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == f"trial 1: failed 0/2 tests\ntrial 2: passed 2/2 tests\n\n```python\n{GOOD_CODE}\n```"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finals) == 1 and finals[0].model_extra["rfx"]["status"] == "succeeded"  # type: ignore[index]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_stream_without_progress_option_carries_only_the_code(served: Served, fake_llm: Any) -> None:
    script_fail_then_fix(fake_llm)
    with httpx.stream(
        "POST",
        f"{served.url}/v1/chat/completions",
        headers=served.headers("alice"),
        timeout=60,
        json={"model": "reflexion", "stream": True, "messages": [{"role": "user", "content": ADD_TASK}]},
    ) as response:
        lines = [ln for ln in response.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]"  # what the SDK stops on, as OpenAI's own streams end
    chunks = list(
        client(served).chat.completions.create(
            model="reflexion", messages=[{"role": "user", "content": ADD_TASK}], stream=True
        )
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == f"```python\n{GOOD_CODE}\n```"


async def test_async_stream_closed_early_cancels_the_episode(served: Served, fake_llm: Any) -> None:
    fake_llm.script(
        {"pattern": "Complete the Python function", "replies": [BAD]}, default=LESSON, latency_s=2
    )
    key = served.headers("alice")["Authorization"].split()[1]
    async with openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key=key, max_retries=0) as aclient:
        stream = await aclient.chat.completions.create(
            model="reflexion", messages=[{"role": "user", "content": ADD_TASK}], stream=True
        )
        first = await stream.__anext__()
        episode_id = first.model_extra["rfx"]["episode_id"]  # type: ignore[index]
        await stream.close()
    status = await asyncio.to_thread(wait_status, served, "alice", episode_id, {"cancelled"})
    assert status == "cancelled"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"functions": [{"name": "f", "parameters": {}}]}, "functions"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"temperature": 3.5}, "temperature"),
        ({"max_tokens": 4}, "max_tokens"),
    ],
)
def test_unsupported_or_invalid_parameters_are_400_naming_them(
    served: Served, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(served).chat.completions.create(
            model="reflexion", messages=[{"role": "user", "content": ADD_TASK}], **extra
        )
    assert caught.value.status_code == 400 and caught.value.param == param
    assert param in caught.value.message


def test_bad_messages_are_400(served: Served) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(served).chat.completions.create(
            model="reflexion", messages=[{"role": "user", "content": "hello, how are you?"}]
        )
    assert "no function or class" in caught.value.message and caught.value.param == "messages"
    broken_module = (
        "```python\ndef add(a, b):\n    pass\n```\n```python\nimport pytest\n\ndef test_add(:\n```"
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client(served).chat.completions.create(
            model="reflexion", messages=[{"role": "user", "content": broken_module}]
        )
    assert "the pytest module: tests (pytest) do not parse" in caught.value.message


def test_a_pytest_module_in_the_message_grades_the_answer(served: Served, fake_llm: Any) -> None:
    """Refused with 400 "not supported yet" before the sandbox ran pytest."""
    script_fail_then_fix(fake_llm)
    module = (
        "import pytest\nfrom solution import add\n\n\n"
        "@pytest.mark.parametrize('a,b,total', [(1, 2, 3), (-1, 1, 0)])\n"
        "def test_add(a, b, total):\n    assert add(a, b) == total\n"
    )
    content = f"```python\n{DOCSTRING_TASK}```\n```python\n{module}```"
    reply = client(served).chat.completions.create(
        model="reflexion/fake-actor",
        messages=[{"role": "user", "content": content}],
        extra_body={"rfx": {"config": {"max_trials": 2}}},
    )
    rfx = reply.model_extra["rfx"]  # type: ignore[index]
    assert rfx["tests_source"] == "message" and rfx["verified"] is True
    assert [t["graded"] for t in rfx["trials"]] == ["failed", "passed"]
    assert reply.choices[0].message.content == f"```python\n{GOOD_CODE}\n```"


def test_schema_errors_are_400_in_openai_shape_after_the_key_check(served: Served) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(served).chat.completions.create(model="reflexion", messages=[])
    assert caught.value.param == "messages" and "at least 1" in caught.value.message
    with pytest.raises(openai.AuthenticationError):  # a wrong key is 401 whatever the body holds
        client(served, api_key="not-a-key-at-all").chat.completions.create(model="reflexion", messages=[])


def test_a_client_that_goes_away_cancels_its_episode(served: Served, fake_llm: Any) -> None:
    fake_llm.script(
        {"pattern": "Complete the Python function", "replies": [BAD]}, default=LESSON, latency_s=3
    )
    with pytest.raises(openai.APITimeoutError):
        client(served, timeout=1.5).chat.completions.create(
            model="reflexion", messages=[{"role": "user", "content": ADD_TASK}]
        )
    page = httpx.get(f"{served.url}/v1/episodes", headers=served.headers("alice"), timeout=10).json()
    assert wait_status(served, "alice", page["data"][0]["id"], {"cancelled"}) == "cancelled"


def test_wrong_key_is_401(served: Served) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client(served, api_key="not-a-key-at-all").chat.completions.create(
            model="reflexion", messages=[{"role": "user", "content": ADD_TASK}]
        )
    assert caught.value.status_code == 401 and caught.value.body["message"] == "invalid API key"  # type: ignore[index]
    with pytest.raises(openai.AuthenticationError):
        client(served, api_key="not-a-key-at-all").models.list()


def test_other_models_are_404_not_proxied(served: Served, fake_llm: Any) -> None:
    for model in ("gpt-4o", "reflexion/unknown", "fake-actor"):
        with pytest.raises(openai.NotFoundError) as caught:
            client(served).chat.completions.create(
                model=model, messages=[{"role": "user", "content": ADD_TASK}]
            )
        assert caught.value.code == "model_not_found" and "not a proxy" in caught.value.message
    assert fake_llm.requests == []


def test_over_quota_is_429_with_retry_after_and_a_full_queue_is_503(served: Served, fake_llm: Any) -> None:
    fake_llm.script(
        {"pattern": "Complete the Python function", "replies": [BAD]}, default=LESSON, latency_s=30
    )
    held: list[tuple[str, str]] = []
    try:
        for _ in range(QUOTA):  # carol fills her quota with slow episodes
            r = httpx.post(f"{served.url}/v1/episodes", json=task_body(), headers=served.headers("carol"))
            held.append(("carol", r.json()["id"]))
        with pytest.raises(openai.RateLimitError) as caught:
            client(served, "carol").chat.completions.create(
                model="reflexion", messages=[{"role": "user", "content": ADD_TASK}]
            )
        assert caught.value.status_code == 429 and caught.value.response.headers["retry-after"] == "10"
        assert "quota" in caught.value.message
        r = httpx.post(f"{served.url}/v1/episodes", json=task_body(), headers=served.headers("dave"))
        held.append(("dave", r.json()["id"]))  # now the queue holds its maximum
        with pytest.raises(openai.InternalServerError) as unavailable:
            client(served, "alice").chat.completions.create(
                model="reflexion", messages=[{"role": "user", "content": ADD_TASK}]
            )
        assert unavailable.value.status_code == 503
        assert unavailable.value.response.headers["retry-after"] == "10"
        assert unavailable.value.body["type"] == "service_unavailable"  # type: ignore[index]
    finally:
        for tenant, episode_id in held:
            httpx.post(f"{served.url}/v1/episodes/{episode_id}/cancel", headers=served.headers(tenant))
        for tenant, episode_id in held:
            wait_status(served, tenant, episode_id, {"cancelled"})


def test_a_body_over_the_limit_is_413_in_openai_shape(served: Served) -> None:
    """The body limit guards the parser before any route runs; here too the error is OpenAI's."""
    huge = ADD_TASK + "\n# " + "x" * 1_100_000  # over RFX_MAX_BODY_BYTES (default 1,000,000)
    with pytest.raises(openai.APIStatusError) as caught:
        client(served).chat.completions.create(
            model="reflexion", messages=[{"role": "user", "content": huge}]
        )
    assert caught.value.status_code == 413
    assert caught.value.code == "request_too_large" and "exceeds" in caught.value.message
    assert caught.value.response.headers["content-type"].startswith("application/json")
    elsewhere = httpx.post(
        f"{served.url}/v1/judge", content=b"x" * 1_100_000, headers=served.headers("alice")
    )
    assert elsewhere.status_code == 413 and elsewhere.headers["content-type"].startswith(
        "application/problem+json"
    )
