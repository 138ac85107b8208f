"""The optional `model` compose profile: the bundled local model served by llama.cpp in its own
container, built offline by `scripts/stack-init --model`, answering the OpenAI-compatible API that
the worker's actor uses (http://model:8089/v1 inside the stack; a loopback port here)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_compose import REPO, clean_env, run
from tests.fixtures.services import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    run(["scripts/stack-init", "--model"], REPO, timeout=1800)
    port = free_port()
    project = f"rfxmodel{uuid.uuid4().hex[:8]}"
    env = clean_env() | {"RFX_MODEL_PORT": str(port)}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "compose", "-p", project, "--profile", "model", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )

    try:
        up = compose("up", "-d", "--build", "--no-deps", "--wait", "--wait-timeout", "240", "model")
        assert up.returncode == 0, up.stdout + up.stderr
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        down = compose("down", "--timeout", "20")
    assert down.returncode == 0, down.stderr


def test_model_service_serves_the_bundled_model(model_url: str) -> None:
    models = httpx.get(f"{model_url}/models", timeout=30).json()
    assert [m["id"] for m in models["data"]] == ["qwen2.5-coder-0.5b"]
    reply = httpx.post(
        f"{model_url}/chat/completions",
        timeout=300,
        json={
            "model": "qwen2.5-coder-0.5b",
            "temperature": 0,
            "max_tokens": 24,
            "messages": [{"role": "user", "content": "Complete: def add(a, b):\n    return"}],
        },
    ).json()
    assert reply["usage"]["completion_tokens"] > 0
    assert reply["choices"][0]["message"]["content"].strip()
