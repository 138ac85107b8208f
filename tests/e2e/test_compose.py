"""The Docker stack from a clean tree, offline: `scripts/stack-init`, `docker compose up -d`, an episode
submitted with reflexion_client against the fake model service, `POST /v1/judge` through the stack,
two workers, the proxy refusing what the judge never needs, a memory bomb under gVisor judged
`memory` (once) by a worker's judge through the proxy, and `docker compose down` leaving no sandbox
container behind.

The clean tree is `git archive HEAD` (what a fresh clone has) plus the build/ artifacts that
scripts/stack-init made in this checkout (wheelhouse, docker CLI), so no index is reached here.
Everything the test talks to is on 127.0.0.1 (published ports); the containers talk among themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from reflexion_client import Client

from tests.fixtures.judge import MEMORY_BOMB, oom_killed_containers
from tests.fixtures.services import free_port
from tests.integration.test_episode_engine import LESSON, RETRY, RIGHT, TASK, WRONG

REPO = Path(__file__).resolve().parents[2]
PROXY_LABEL = "rfx.sandbox-proxy"
TASK_JSON = TASK.model_dump(mode="json", exclude_none=True)

pytestmark = pytest.mark.slow


@dataclass
class Stack:
    tree: Path
    project: str
    api: str
    fake_llm: str
    api_key: str

    def compose(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["docker", "compose", "-p", self.project, "--profile", "test", *args],
            cwd=self.tree,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(),
        )
        if check:
            assert result.returncode == 0, (
                f"docker compose {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def sandboxes(self) -> list[str]:
        out = subprocess.run(
            [
                "docker",
                "ps",
                "-a",
                "--filter",
                f"label={PROXY_LABEL}={self.project}",
                "--format",
                "{{.Names}}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split()

    def project_containers(self) -> list[str]:
        out = subprocess.run(
            [
                "docker",
                "ps",
                "-a",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--format",
                "{{.Names}}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split()


def clean_env() -> dict[str, str]:
    """The environment of a user's shell: no RFX_ settings of the test run leak into the stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RFX_", "OPENAI_", "COMPOSE_"))}
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}"  # `rfx sandbox build` in stack-init
    return env


def run(args: list[str], cwd: Path, timeout: float = 900, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=clean_env() | (env or {})
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run(["scripts/stack-init"], REPO)  # idempotent: only checks when everything is in place
    tree = tmp_path_factory.mktemp("clean-tree")
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    assert not (tree / ".env").exists()
    shutil.copytree(REPO / "build" / "wheels", tree / "build" / "wheels")
    shutil.copytree(REPO / "build" / "bin", tree / "build" / "bin")
    log = run(["scripts/stack-init"], tree, env={"RFX_PROJECT_ROOT": str(tree)})  # its own sandbox/
    assert "wrote .env with a new API key" in log, log
    env_file = (tree / ".env").read_text()
    api_key = next(
        line.split("default=", 1)[1] for line in env_file.splitlines() if line.startswith("RFX_API_KEYS=")
    )
    assert len(api_key) >= 32 and (tree / ".env").stat().st_mode & 0o077 == 0
    api_port, llm_port = free_port(), free_port()
    with (tree / ".env").open("a") as fh:
        fh.write(
            f"RFX_PORT={api_port}\nRFX_FAKE_LLM_PORT={llm_port}\nRFX_IMAGE=reflexion-service:e2e\n"
            "RFX_ACTOR_BASE_URL=http://fake-llm:9000/v1\nRFX_ACTOR_MODEL=fake-actor\n"
        )
    stack = Stack(
        tree,
        f"rfxe2e{uuid.uuid4().hex[:8]}",
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{llm_port}",
        api_key,
    )
    try:
        stack.compose("build", timeout=1200)
        stack.compose("up", "-d", "--wait", "--wait-timeout", "180", timeout=300)
        yield stack
    finally:
        logs = stack.compose("logs", "--no-color", "--tail", "40", check=False).stdout
        down = stack.compose("down", "-v", "--timeout", "30", check=False)
        print(logs)
    assert down.returncode == 0, down.stderr
    assert stack.project_containers() == [], "compose down left containers"
    assert stack.sandboxes() == [], "compose down left sandbox containers"


def script_fake_llm(stack: Stack) -> None:
    script = {
        "rules": [
            {"model": "fake-actor", "pattern": RETRY, "replies": [{"text": RIGHT}]},
            {"model": "fake-actor", "pattern": "failed its tests", "replies": [{"text": LESSON}]},
            {"model": "fake-actor", "replies": [{"text": WRONG}]},
        ]
    }
    response = httpx.post(f"{stack.fake_llm}/_fake/script", json=script, timeout=10)
    assert response.status_code == 200, response.text


def test_stack_is_healthy_and_ready(stack: Stack) -> None:
    ps = stack.compose("ps", "--format", "{{.Service}} {{.Health}} {{.State}}").stdout
    states = dict(line.split(" ", 1) for line in ps.strip().splitlines())
    for service in ("api", "worker", "redis", "docker-proxy", "fake-llm"):
        assert states[service].startswith("healthy"), ps
    ready = httpx.get(f"{stack.api}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    aof = stack.compose("exec", "-T", "redis", "redis-cli", "config", "get", "appendonly").stdout.split()
    assert aof == ["appendonly", "yes"]
    page = httpx.get(f"{stack.api}/ui/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert httpx.get(f"{stack.api}/ui/app.js", timeout=10).status_code == 200
    unauthenticated = httpx.get(f"{stack.api}/v1/episodes", timeout=10)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"].startswith("application/problem+json")


def test_episode_with_the_client_against_the_fake_model_service(stack: Stack) -> None:
    script_fake_llm(stack)
    with Client(stack.api, api_key=stack.api_key) as rfx:
        episode = rfx.submit(TASK_JSON)
        events = [e.type for e in rfx.stream_events(episode.id)]
        done = rfx.wait(episode.id, timeout=120)
        verdict = rfx.judge("def add(a, b):\n    return a + b\n", TASK.tests, entry_point="add")
    assert events[0] == "episode.started" and events[-1] == "episode.finished"
    assert (done.status, done.stop_reason, done.final_trial) == ("succeeded", "solved", 2)
    assert done.attempts[0].reflection == LESSON
    assert verdict.status == "passed" and all(t.passed for t in verdict.tests)
    assert stack.sandboxes(), "the judge should have run sandboxes labelled by this stack's proxy"


def test_scaled_workers_share_the_queue(stack: Stack) -> None:
    stack.compose("up", "-d", "--no-recreate", "--scale", "worker=2", "--wait", "--wait-timeout", "120")
    ps = stack.compose("ps", "--format", "{{.Service}}").stdout.split()
    assert ps.count("worker") == 2
    script_fake_llm(stack)
    with Client(stack.api, api_key=stack.api_key) as rfx:
        ids = [rfx.submit({**TASK_JSON, "id": f"scale/{i}"}).id for i in range(4)]
        finished = [rfx.wait(i, timeout=180) for i in ids]
    assert [e.status for e in finished] == ["succeeded"] * 4


def test_workers_reach_docker_only_through_the_proxy(stack: Stack) -> None:
    exec_worker = ["exec", "-T", "worker"]
    no_socket = stack.compose(*exec_worker, "sh", "-c", "test ! -e /var/run/docker.sock", check=False)
    assert no_socket.returncode == 0, "the worker must not see the host's Docker socket"
    image = run(
        ["docker", "compose", "-p", stack.project, "exec", "-T", "api", "rfx", "sandbox", "tag"], stack.tree
    )
    sandbox = image.strip().splitlines()[-1]
    attempts = {
        "privileged": ["--privileged"],
        "host network": ["--network", "host"],
        "host mount": ["-v", "/:/host"],
    }
    for name, flags in attempts.items():
        result = stack.compose(
            *exec_worker,
            "docker",
            "run",
            "--rm",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--memory",
            "64m",
            "--pids-limit",
            "16",
            "--user",
            "65534",
            *flags,
            sandbox,
            "true",
            check=False,
        )
        assert result.returncode != 0 and "rfx docker proxy" in result.stderr, (name, result.stderr)
    other_image = stack.compose(
        *exec_worker,
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "rfx-debian-python:bookworm",
        "true",
        check=False,
    )
    assert other_image.returncode != 0 and "not a sandbox image" in other_image.stderr
    foreign = stack.compose(*exec_worker, "docker", "rm", "-f", f"{stack.project}-redis-1", check=False)
    assert foreign.returncode != 0 and "not created through this proxy" in foreign.stderr
    assert f"{stack.project}-redis-1" in stack.project_containers()


# The shared bomb, run by a judge made in the worker container: it reaches Docker only through the
# stack's proxy.
BOMB_IN_THE_WORKER = f"""
import asyncio, json
from app.judge import DockerJudge, JudgeConfig
from app.reflexion.models import JudgeLimits, Submission

BOMB = Submission(**{MEMORY_BOMB.model_dump(exclude_defaults=True)!r})

async def main():
    limits = JudgeLimits(timeout_s=8, memory_mb=128, pids=64, tmpfs_mb=16)
    judge = DockerJudge(JudgeConfig(mode="pooled", runtime="runsc", workers=1, limits=limits))
    await judge.start()
    try:
        verdict = await judge.judge(BOMB)
    finally:
        await judge.aclose()
    print(json.dumps({{"status": verdict.status, "detail": verdict.detail, "instance": judge.id}}))

asyncio.run(main())
"""


def test_a_memory_bomb_under_gvisor_through_the_stack_proxy(stack: Stack, docker_client: Any) -> None:
    """The worker's judge, under runsc and through the stack's proxy, tells the OOM kill from a crash
    (it reads its own containers' events) and runs the bomb once: the engine, asked directly,
    recorded OOM kills in one container of that judge (a second run would be in a new container)."""
    since = time.time() - 1
    result = stack.compose("exec", "-T", "worker", "python3", "-c", BOMB_IN_THE_WORKER, timeout=300)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    killed = oom_killed_containers(docker_client, outcome["instance"], since, time.time() + 1)
    assert outcome["status"] == "memory", outcome
    assert len(killed) == 1, killed  # the submission ran once
