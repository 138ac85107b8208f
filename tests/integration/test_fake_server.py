"""The fake OpenAI-compatible server over real HTTP: scripting, faults, streaming, the request log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from app.llm.fake_script import Reply, Rule
from app.llm.fake_server import FakeLLMServer
from tests.fixtures.services import free_port


def chat(server: FakeLLMServer, text: str, model: str = "m", **params: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **params}
    return httpx.post(
        f"{server.base_url}/chat/completions",
        json=body,
        timeout=10,
        headers={"Authorization": "Bearer k-123"},
    )


def content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def test_default_reply_has_openai_shape_and_usage(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(default="hello there")
    body = chat(fake_llm, "hi").json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "m"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hello there"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 3  # 11 chars / 4, rounded up
    assert body["usage"]["prompt_tokens"] > 0
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 3


def test_rules_match_by_model_and_pattern_in_order(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        Rule(model="actor-*", pattern=r"def \w+", replies=["actor code"]),
        Rule(model="reflector", replies=["a lesson"]),
        Rule(pattern="system-only", match_on="any", replies=["seen in system"]),
        default="fallback",
    )
    assert content(chat(fake_llm, "write def foo", model="actor-small")) == "actor code"
    assert content(chat(fake_llm, "no function here", model="actor-small")) == "fallback"
    assert content(chat(fake_llm, "anything", model="reflector")) == "a lesson"
    body = {
        "model": "x",
        "messages": [{"role": "system", "content": "system-only"}, {"role": "user", "content": "q"}],
    }
    response = httpx.post(f"{fake_llm.base_url}/chat/completions", json=body, timeout=10)
    assert content(response) == "seen in system"
    assert [r.rule for r in fake_llm.requests] == [0, None, 1, 2]


def test_reply_sequence_repeats_last_and_rules_retire_after_times(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        Rule(pattern="seq", replies=["one", "two"]),
        Rule(pattern="limited", replies=["first"], once=True),
        Rule(pattern="limited", replies=["later"], times=2),
        default="none left",
    )
    assert [content(chat(fake_llm, "seq")) for _ in range(3)] == ["one", "two", "two"]
    assert [content(chat(fake_llm, "limited")) for _ in range(4)] == ["first", "later", "later", "none left"]


def test_status_faults_carry_openai_error_bodies_and_retry_after(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        Rule(pattern="rate", replies=[Reply.rate_limit(retry_after=2.5)]),
        Rule(pattern="boom", replies=[Reply.server_error()]),
        Rule(pattern="gone", replies=[Reply(status=503)]),
    )
    limited = chat(fake_llm, "rate")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2.5"
    assert limited.json()["error"]["type"] == "rate_limit_exceeded"
    assert chat(fake_llm, "boom").status_code == 500
    assert chat(fake_llm, "gone").status_code == 503


def test_content_faults(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        Rule(pattern="malformed", replies=[Reply.malformed()]),
        Rule(pattern="empty", replies=[Reply.empty()]),
        Rule(pattern="cut", replies=[Reply.truncated("def f(")]),
        Rule(pattern="nochoice", replies=[Reply(fault="no_choices")]),
    )
    broken = chat(fake_llm, "malformed")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.text)
    assert content(chat(fake_llm, "empty")) == ""
    cut = chat(fake_llm, "cut").json()["choices"][0]
    assert (cut["message"]["content"], cut["finish_reason"]) == ("def f(", "length")
    assert chat(fake_llm, "nochoice").json()["choices"] == []


def test_hang_outlasts_a_client_timeout(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(pattern="slow", replies=[Reply.hang(5)]), default="quick")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{fake_llm.base_url}/chat/completions",
            timeout=0.3,
            json={"model": "m", "messages": [{"role": "user", "content": "slow"}]},
        )
    assert content(chat(fake_llm, "fast")) == "quick"  # the hung request blocks nobody else


def test_injected_latency_per_rule_per_reply_and_per_script(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        Rule(pattern="slow-rule", replies=["late"], latency_s=5),
        Rule(pattern="slow-reply", replies=[Reply(text="late", latency_s=5)]),
        default="fast",
    )
    url = f"{fake_llm.base_url}/chat/completions"
    for text in ("slow-rule", "slow-reply"):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url, timeout=0.3, json={"model": "m", "messages": [{"role": "user", "content": text}]})
    assert content(chat(fake_llm, "other")) == "fast"
    fake_llm.script(default="fast", latency_s=5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, timeout=0.3, json={"model": "m", "messages": [{"role": "user", "content": "x"}]})


def test_the_openai_sdk_reads_the_stream(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(Rule(model="streamer", replies=["def f():\n    return 42\n"]))
    client = openai.OpenAI(base_url=fake_llm.base_url, api_key="k", max_retries=0)
    stream = client.chat.completions.create(
        model="streamer",
        messages=[{"role": "user", "content": "go"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "def f():\n    return 42\n"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    client.close()


def test_request_log_records_what_the_model_was_shown(fake_llm: FakeLLMServer) -> None:
    before = time.time()
    chat(fake_llm, "show me", model="actor", temperature=0.2, max_tokens=77, seed=5)
    [logged] = fake_llm.requests
    assert logged.model == "actor"
    assert logged.messages == [{"role": "user", "content": "show me"}]
    assert logged.last_user == "show me"
    assert logged.params == {"temperature": 0.2, "max_tokens": 77, "seed": 5}
    assert logged.api_key == "k-123"
    assert logged.path == "/v1/chat/completions"
    assert logged.received_at >= before


def test_streaming_chunks_reassemble_the_reply(fake_llm: FakeLLMServer) -> None:
    text = "```python\ndef add(a, b):\n    return a + b\n```"
    fake_llm.script(Rule(replies=[Reply.truncated(text)]))
    body = {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "go"}],
    }
    with httpx.stream("POST", f"{fake_llm.base_url}/chat/completions", json=body, timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert "".join(deltas) == text
    assert len(deltas) > 3
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == len(text) // 4 + 1
    assert fake_llm.requests[0].stream is True


def test_bad_requests_get_clear_errors(fake_llm: FakeLLMServer) -> None:
    url = f"{fake_llm.base_url}/chat/completions"
    not_json = httpx.post(url, content=b"{nope", timeout=10)
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["error"]["message"]
    no_messages = httpx.post(url, json={"model": "m"}, timeout=10)
    assert no_messages.status_code == 400
    assert fake_llm.requests == []


def test_control_endpoints_script_and_read_over_http(fake_llm: FakeLLMServer) -> None:
    root = fake_llm.base_url.removesuffix("/v1")
    script = {"rules": [{"model": "remote", "replies": ["from http", {"fault": "rate_limit"}]}]}
    assert httpx.post(f"{root}/_fake/script", json=script, timeout=10).json() == {"rules": 1}
    extra = {"rules": [{"model": "other", "replies": "appended"}]}
    httpx.post(f"{root}/_fake/script?append=1", json=extra, timeout=10).raise_for_status()
    assert content(chat(fake_llm, "x", model="remote")) == "from http"
    assert chat(fake_llm, "x", model="remote").status_code == 429
    assert content(chat(fake_llm, "x", model="other")) == "appended"
    logged = httpx.get(f"{root}/_fake/requests", timeout=10).json()
    assert [r["model"] for r in logged] == ["remote", "remote", "other"]
    models = httpx.get(f"{fake_llm.base_url}/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == ["other", "remote"]
    assert httpx.post(f"{root}/_fake/reset", timeout=10).status_code == 204
    assert httpx.get(f"{root}/_fake/requests", timeout=10).json() == []


def test_invalid_script_is_a_problem_response(fake_llm: FakeLLMServer) -> None:
    root = fake_llm.base_url.removesuffix("/v1")
    bad = httpx.post(f"{root}/_fake/script", json={"rules": [{"pattern": "(", "replies": ["x"]}]}, timeout=10)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert "invalid regex" in bad.json()["detail"]


def test_standalone_module_serves_a_script_file(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"rules": [{"pattern": "ping", "replies": ["pong"]}], "default": "d"}))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.llm.fake_server", "--port", str(port), "--script", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.post(url, json=body, timeout=5)
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "fake server did not come up"
                time.sleep(0.1)
        assert response.json()["choices"][0]["message"]["content"] == "pong"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_standalone_module_rejects_a_bad_script(tmp_path: Path) -> None:
    script = tmp_path / "bad.json"
    script.write_text('{"rules": [{"replies": []}]}')
    result = subprocess.run(
        [sys.executable, "-m", "app.llm.fake_server", "--port", str(free_port()), "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "bad --script" in result.stderr
    assert "Traceback" not in result.stderr
