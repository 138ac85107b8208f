"""The Docker socket proxy between the real judge and the real engine (no compose stack needed):
the judge's sandboxes work through it on both runtimes, anything else is refused, containers the
proxy did not create are out of reach, and its sweep removes what it created."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.deploy.docker_proxy import DockerProxy
from app.deploy.proxy_policy import PROXY_LABEL, Policy
from app.judge.config import JudgeConfig
from app.judge.docker_judge import DockerJudge
from app.reflexion.models import Submission
from tests.fixtures.services import TEST_LABEL, TEST_RUN_ID

RIGHT = "def add(a, b):\n    return a + b\n"
TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n"


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, DockerProxy]]:
    """The proxy on a free loopback port, labelling with this test run's id."""
    instance = DockerProxy("/var/run/docker.sock", Policy(label_value=f"test-{TEST_RUN_ID}"))
    server = await asyncio.start_server(instance.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"tcp://127.0.0.1:{port}", instance
    finally:
        server.close()
        await instance.sweep()


async def docker(host: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "docker", "-H", host, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


@pytest.mark.parametrize(("mode", "runtime"), [("pooled", "runc"), ("fresh", "runsc")])
async def test_the_judge_works_through_the_proxy(
    proxy: tuple[str, DockerProxy],
    sandbox_image: str,
    docker_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    runtime: str,
) -> None:
    host, _ = proxy
    monkeypatch.setenv("DOCKER_HOST", host)  # the judge's docker CLI reads it
    judge = DockerJudge(
        JudgeConfig(
            mode=mode, runtime=runtime, workers=1, image=sandbox_image, labels={TEST_LABEL: TEST_RUN_ID}
        )
    )
    await judge.start()
    try:
        passed = await judge.judge(Submission(code=RIGHT, tests=TESTS, entry_point="add"))
        failed = await judge.judge(Submission(code=RIGHT.replace("+", "-"), tests=TESTS, entry_point="add"))
    finally:
        await judge.aclose()
    assert passed.status == "passed", passed
    assert failed.status == "failed", failed


async def test_refusals_and_foreign_containers(
    proxy: tuple[str, DockerProxy], sandbox_image: str, docker_client: Any, test_labels: dict[str, str]
) -> None:
    host, instance = proxy
    hardened = [
        "--network",
        "none",
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
        "--label",
        f"{TEST_LABEL}={TEST_RUN_ID}",
    ]
    for flags in (
        ["--privileged"],
        ["-v", "/:/host"],
        ["--pid", "host"],
        ["--cap-add", "SYS_ADMIN"],
        ["--device", "/dev/kmsg"],
        ["--security-opt", "seccomp=unconfined"],
    ):
        code, out = await docker(
            host, "run", "--rm", *hardened, *flags, "--entrypoint", "true", sandbox_image
        )
        assert code != 0 and "rfx docker proxy" in out, (flags, out)
    code, out = await docker(host, "build", "-")
    assert code != 0

    # A container the proxy did not create (made on the engine directly) cannot be touched through it.
    foreign = docker_client.containers.run(
        sandbox_image, entrypoint=["sleep", "60"], detach=True, network_mode="none", labels=test_labels
    )
    try:
        for args in (["rm", "-f", foreign.id], ["exec", foreign.id, "true"], ["stop", foreign.id]):
            code, out = await docker(host, *args)
            assert code != 0 and "not created through this proxy" in out, (args, out)
        code, out = await docker(host, "ps", "-aq", "--no-trunc")
        assert foreign.id not in out  # listings show only the proxy's own containers
    finally:
        foreign.remove(force=True)

    # Its own container: allowed, labelled, listed, and removed by the sweep.
    code, out = await docker(host, "run", "-d", *hardened, "--entrypoint", "sleep", sandbox_image, "60")
    assert code == 0, out
    own = out.strip().splitlines()[-1]
    assert docker_client.containers.get(own).labels[PROXY_LABEL] == f"test-{TEST_RUN_ID}"
    code, out = await docker(host, "ps", "-q", "--no-trunc")
    assert own in out
    assert await instance.sweep() >= 1
    assert not docker_client.containers.list(all=True, filters={"id": own})
