"""Bad input is a clear problem+json (422/413/404/405), never a 500 or a traceback."""

from __future__ import annotations

import httpx

from tests.integration.apiserver import running_app, service_settings, task_body

PROBLEM = "application/problem+json"


async def test_bad_episode_requests(redis_url: str, key_prefix: str) -> None:
    settings = service_settings(redis_url, key_prefix, max_body_bytes=300_000)
    task = task_body()["task"]
    assert isinstance(task, dict)
    cases: list[tuple[object, str]] = [
        ({**task_body(), "colour": "red"}, "colour"),  # unknown top-level field
        (task_body(max_trials=0), "max_trials"),
        (task_body(max_trials=1000), "max_trials"),
        (task_body(timeout_s=10**9), "timeout_s"),
        (task_body(strategy="magic"), "strategy"),
        (task_body(retries="hot"), "retries"),
        (task_body(retry_temperatures=[0.5, 9]), "retry_temperatures"),
        (task_body(retry_temperatures=[]), "retry_temperatures"),
        (task_body(max_resamples=-1), "max_resamples"),
        (task_body(feedback_level="verbose"), "feedback_level"),
        (task_body(retry_context="both"), "retry_context"),
        (task_body(strategy="tree_search", branching=0), "branching"),
        (task_body(strategy="tree_search", branching=11), "branching"),
        ({"task": {**task, "extra": 1}}, "task.extra"),  # Task is strict
        ({"task": {**task, "entry_point": "not valid!"}}, "task.entry_point"),
        ({"task": {**task, "prompt": "x" * 100_001}}, "task.prompt"),
        (task_body(actor={"base_url": "http://169.254.169.254/"}), "actor.base_url"),  # no URLs in requests
        ({}, "task"),
        ([1, 2, 3], "body"),
    ]
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        for body, field in cases:
            r = await client.post("/v1/episodes", json=body)
            assert r.status_code == 422, (field, r.status_code, r.text[:200])
            assert r.headers["content-type"].startswith(PROBLEM)
            problem = r.json()
            assert problem["status"] == 422 and problem["title"] == "Invalid input"
            assert field.split(".")[-1] in problem["detail"], (field, problem["detail"])

        unknown_model = await client.post("/v1/episodes", json=task_body(actor={"model": "gpt-imaginary"}))
        assert unknown_model.status_code == 422
        assert "gpt-imaginary" in unknown_model.json()["detail"]

        not_json = await client.post(
            "/v1/episodes", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert not_json.status_code == 422 and not_json.headers["content-type"].startswith(PROBLEM)
        # says what is wrong and where, not "1: JSON decode error"
        assert not_json.json()["detail"] == (
            "body: not valid JSON at character 1: Expecting property name enclosed in double quotes"
        )
        assert not_json.json()["errors"] == [{"field": "body", "message": not_json.json()["detail"][6:]}]

        # NaN passes JSON parsing (Python's reader takes it): the error names it, not a bound
        nan = await client.post(
            "/v1/episodes",
            content=b'{"task": {"id": "t", "prompt": "p", "entry_point": "f", "tests": "def check(c): 0"}, '
            b'"temperature": NaN}',
            headers={"content-type": "application/json"},
        )
        assert nan.status_code == 422
        assert nan.json()["detail"] == "temperature: Input should be a finite number"

        # a JSON body sent under another content type is not parsed: the error says how to send it
        as_text = await client.post(
            "/v1/episodes", content=b'{"task": {}}', headers={"content-type": "text/plain"}
        )
        assert as_text.status_code == 422 and as_text.headers["content-type"].startswith(PROBLEM)
        assert "Content-Type: application/json" in as_text.json()["detail"]
        assert "text/plain" in as_text.json()["detail"]

        huge = await client.post(
            "/v1/episodes", content=b"x" * 400_000, headers={"content-type": "application/json"}
        )
        assert huge.status_code == 413 and huge.headers["content-type"].startswith(PROBLEM)

        async def chunks() -> object:
            for _ in range(40):
                yield b"y" * 10_000

        chunked = await client.post(
            "/v1/episodes",
            content=chunks(),  # type: ignore[arg-type]
            headers={"content-type": "application/json"},
        )
        assert chunked.status_code == 413

        bad_key = await client.post("/v1/episodes", json=task_body(), headers={"Idempotency-Key": "a b"})
        assert bad_key.status_code == 422 and bad_key.headers["content-type"].startswith(PROBLEM)
        assert "idempotency-key" in bad_key.json()["detail"]  # FastAPI's pattern check names the header

        bad_resume = await client.get(
            "/v1/episodes/ep_00000000000000000000/events", headers={"Last-Event-ID": "yesterday"}
        )
        assert bad_resume.status_code == 422 and "last-event-id" in bad_resume.json()["detail"]
        too_long = await client.post("/v1/episodes", json=task_body(), headers={"Idempotency-Key": "k" * 201})
        assert too_long.status_code == 422 and "idempotency-key" in too_long.json()["detail"]

        for path in (
            "/v1/episodes/nope",
            "/v1/episodes/ep_00000000000000000000",
            "/v1/episodes/../../etc/passwd",
        ):
            r = await client.get(path)
            assert r.status_code == 404, path
            assert r.headers["content-type"].startswith(PROBLEM)

        r = await client.put("/v1/episodes")
        assert r.status_code == 405 and r.headers["content-type"].startswith(PROBLEM)


async def test_judge_input_errors(redis_url: str, key_prefix: str) -> None:
    settings = service_settings(redis_url, key_prefix)
    async with running_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        for body in (
            {},
            {"code": "def f(): pass", "tests": "def check(c): pass"},
            {"code": "x", "limits": {"timeout_s": 10_000}},
            {"code": "x", "shell": True},
            {"code": "x = 1", "limits": {"timeout_s": 200}},  # valid, but past this server's 10 s
            {"code": "x = 1", "limits": {"memory_mb": 4096}},
        ):
            r = await client.post("/v1/judge", json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"].startswith(PROBLEM)
