"""The Docker socket proxy between the real judge and the real engine, tried as an attacker would.

The proxy runs in this process on a loopback port in front of the host's engine (the way the compose
stack runs it in front of the same engine; the stack itself is tested in tests/e2e/test_compose.py).
The judge's sandboxes work through it on both runtimes and with both docker CLIs the project uses; a
memory bomb under gVisor is told apart from a crash (the judge reads its own containers' events);
root in disguise, widening flags, exec, archives, smuggled requests, path tricks and containers the
proxy did not create are refused with 403 and one line; its sweep removes what it created.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.deploy.docker_proxy import DockerProxy
from app.deploy.proxy_policy import PROXY_LABEL, Policy
from app.judge.config import JudgeConfig
from app.judge.container import hardening_args
from app.judge.docker_judge import DockerJudge
from app.judge.reaper import INSTANCE_LABEL
from app.reflexion.models import JudgeLimits, Submission
from tests.fixtures.judge import MEMORY_BOMB, oom_killed_containers
from tests.fixtures.services import TEST_LABEL, TEST_RUN_ID

RIGHT = "def add(a, b):\n    return a + b\n"
TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
LIMITS = JudgeLimits(timeout_s=8.0, memory_mb=128, pids=64, output_bytes=64 * 1024, tmpfs_mb=16, cpus=1.0)
STACK_CLI = "/usr/bin/docker"  # Debian's docker.io CLI: the one scripts/stack-init puts in the image


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


async def docker(host: str, *args: str, cli: str = "docker") -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        cli, "-H", host, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def http(host: str, raw: bytes, wait_s: float = 5.0) -> bytes:
    """Send raw bytes to the proxy; everything it answers until it closes (or `wait_s` of silence)."""
    address = host.removeprefix("tcp://")
    reader, writer = await asyncio.open_connection(*address.rsplit(":", 1))
    writer.write(raw)
    await writer.drain()
    answer = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), wait_s):
            answer += chunk
    except TimeoutError:
        pass
    finally:
        writer.close()
    return answer


def request(method: str, target: str, body: bytes = b"", headers: str = "") -> bytes:
    return (
        f"{method} {target} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{headers}\r\n"
    ).encode() + body


def refusal(answer: bytes) -> str:
    """The one-line reason of a 403 answer (fails the test on anything else)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 "), answer[:300]
    message = str(json.loads(body)["message"])
    assert message.startswith("rfx docker proxy: ") and "\n" not in message
    return message


def judge_flags(runtime: str = "runc", user: str | None = None) -> list[str]:
    """The judge's own hardening flags (app/judge/container.py), optionally with another --user."""
    flags = [*hardening_args(LIMITS, runtime), "--label", f"{TEST_LABEL}={TEST_RUN_ID}"]
    if user is not None:
        at = flags.index("--user")
        flags[at + 1] = user
    return flags


@pytest.mark.parametrize(
    ("mode", "runtime", "cli"),
    [("pooled", "runc", "docker"), ("fresh", "runsc", "docker"), ("pooled", "runc", STACK_CLI)],
)
async def test_the_judge_works_through_the_proxy(
    proxy: tuple[str, DockerProxy],
    sandbox_image: str,
    docker_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    runtime: str,
    cli: str,
) -> None:
    host, _ = proxy
    monkeypatch.setenv("DOCKER_HOST", host)  # the judge's docker CLI reads it
    judge = DockerJudge(
        JudgeConfig(
            mode=mode,
            runtime=runtime,
            workers=1,
            image=sandbox_image,
            labels={TEST_LABEL: TEST_RUN_ID},
            docker=cli,
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
    assert not docker_client.containers.list(all=True, filters={"label": f"{INSTANCE_LABEL}={judge.id}"})


async def test_a_memory_bomb_under_gvisor_is_a_memory_verdict_run_once(
    proxy: tuple[str, DockerProxy], sandbox_image: str, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gVisor's sandbox is one host process, so a bomb spread over processes gets the container
    OOM-killed; only the engine's `oom` event tells that from a crash. Through the proxy the judge
    must see that event (status `memory`) and must not run the bomb a second time: the engine
    itself (not the proxy) is asked how many times this judge's containers were OOM-killed."""
    host, _ = proxy
    monkeypatch.setenv("DOCKER_HOST", host)
    judge = DockerJudge(
        JudgeConfig(
            mode="pooled",
            runtime="runsc",
            workers=1,
            image=sandbox_image,
            limits=LIMITS,
            labels={TEST_LABEL: TEST_RUN_ID},
        )
    )
    await judge.start()
    since = time.time() - 1
    try:
        verdict = await judge.judge(MEMORY_BOMB)
    finally:
        await judge.aclose()
    killed = await asyncio.to_thread(oom_killed_containers, docker_client, judge.id, since, time.time() + 1)
    assert verdict.status == "memory", verdict
    # the submission ran once: one OOM-killed container. A run again would be in a new container
    # (an OOM-killed gVisor sandbox is gone).
    assert len(killed) == 1, killed


async def test_events_show_only_the_proxys_own_containers(
    proxy: tuple[str, DockerProxy], sandbox_image: str, docker_client: Any, test_labels: dict[str, str]
) -> None:
    host, _ = proxy
    since = time.time() - 1
    own_name = f"rfx-proxy-own-{uuid.uuid4().hex[:8]}"
    code, out = await docker(host, "create", "--rm", "--name", own_name, *judge_flags(), sandbox_image)
    assert code == 0, out
    foreign = docker_client.containers.create(
        sandbox_image,
        network_mode="none",
        labels=test_labels,
        name=f"rfx-proxy-foreign-{uuid.uuid4().hex[:8]}",
    )
    foreign.remove(force=True)
    code, out = await docker(host, "rm", "-f", own_name)
    assert code == 0, out
    until = f"{time.time() + 1:.3f}"
    code, out = await docker(
        host,
        "events",
        "--since",
        f"{since:.3f}",
        "--until",
        until,
        "--format",
        "{{.Type}} {{.Actor.Attributes.name}}",
    )
    assert code == 0, out
    seen = {line for line in out.splitlines() if line.strip()}
    assert seen and all(line == f"container {own_name}" for line in seen), seen
    # Asking for the foreign container, or for other kinds of events, does not widen the view.
    code, out = await docker(
        host, "events", "--since", f"{since:.3f}", "--until", until, "--filter", f"container={foreign.name}"
    )
    assert code == 0 and not out.strip(), out
    code, out = await docker(
        host, "events", "--since", f"{since:.3f}", "--until", until, "--filter", "type=image"
    )
    assert code != 0 and "rfx docker proxy" in out, out


@pytest.mark.parametrize(
    "user", ["0:1000", "root:1000", "0:0:", "00", "0:nogroup", "root:nogroup", "1000", "0"]
)
@pytest.mark.parametrize("runtime", ["runc", "runsc"])
async def test_root_in_disguise_is_refused(
    proxy: tuple[str, DockerProxy], sandbox_image: str, docker_client: Any, user: str, runtime: str
) -> None:
    """Each of these made a container whose process runs as uid 0 (or, for a bare uid the image does
    not list, with gid 0) before the numeric check; the gVisor runner's own spelling stays allowed."""
    host, _ = proxy
    if runtime == "runsc" and user == "0":
        code, out = await docker(host, "create", "--rm", *judge_flags("runsc", user), sandbox_image)
        assert code == 0, out  # the documented exception: runsc's runner as 0 with three capabilities
        return
    code, out = await docker(host, "create", "--rm", *judge_flags(runtime, user), sandbox_image)
    assert code != 0 and "rfx docker proxy" in out and "User" in out, out


async def test_an_empty_user_is_the_images_own_and_must_be_non_root(
    proxy: tuple[str, DockerProxy], sandbox_image: str, docker_client: Any
) -> None:
    host, _ = proxy
    flags = judge_flags()
    at = flags.index("--user")
    del flags[at : at + 2]
    code, out = await docker(host, "create", "--rm", *flags, sandbox_image)  # USER 65534:65534 in sandbox/
    assert code == 0, out
    root_image = f"rfx-sandbox:proxy-root-{TEST_RUN_ID}"  # the base image under an allowed name: USER root
    docker_client.images.get("rfx-debian-python:bookworm").tag(root_image)
    try:
        code, out = await docker(host, "create", "--rm", *flags, root_image)
        assert code != 0 and "rfx docker proxy" in out and "User" in out, out
    finally:
        docker_client.images.remove(root_image, noprune=True)


async def test_exec_and_archives_are_refused_even_on_own_containers(
    proxy: tuple[str, DockerProxy], sandbox_image: str, docker_client: Any, tmp_path: Any
) -> None:
    host, _ = proxy
    name = f"rfx-proxy-own-{uuid.uuid4().hex[:8]}"
    code, out = await docker(host, "create", "--rm", "--name", name, *judge_flags(), sandbox_image)
    assert code == 0, out
    (tmp_path / "x").write_text("x")
    for args in (
        ["exec", name, "true"],
        ["cp", str(tmp_path / "x"), f"{name}:/tmp/x"],  # PUT archive
        ["cp", f"{name}:/etc/passwd", str(tmp_path / "y")],  # GET archive
        ["logs", name],
        ["inspect", name],
        ["stop", name],
        ["kill", name],
        ["commit", name, "rfx-sandbox:committed"],
        ["export", name],
        ["update", "--memory", "8g", name],
    ):
        code, out = await docker(host, *args)
        assert code != 0 and "rfx docker proxy" in out, (args, out)


async def test_a_host_config_sent_with_start_is_refused(
    proxy: tuple[str, DockerProxy], sandbox_image: str, docker_client: Any
) -> None:
    """API versions below 1.24 let `start` carry a HostConfig, and engine 20.10 still applies it:
    a container created hardened would start privileged with the host's /etc mounted."""
    host, _ = proxy
    name = f"rfx-proxy-own-{uuid.uuid4().hex[:8]}"
    code, out = await docker(host, "create", "--rm", "--name", name, *judge_flags(), sandbox_image)
    assert code == 0, out
    widen = json.dumps({"Privileged": True, "Binds": ["/etc:/hostetc:ro"]}).encode()
    for target in (
        f"/v1.23/containers/{name}/start",
        f"/v1.41/containers/{name}/start",
        f"/containers/{name}/start",
    ):
        refusal(await http(host, request("POST", target, widen)))
    config = docker_client.api.inspect_container(name)["HostConfig"]
    assert config["Privileged"] is False and not config["Binds"], config


async def test_a_second_request_cannot_ride_on_an_upgraded_connection(
    proxy: tuple[str, DockerProxy], sandbox_image: str, docker_client: Any
) -> None:
    """`Connection: Upgrade` on a call the engine does not hijack kept the engine's connection open,
    and the client's further bytes reached it unchecked (here: GET /info, which the proxy refuses)."""
    host, _ = proxy
    upgrade = "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    smuggled = request("GET", "/v1.41/info")
    for first in (
        request("GET", "/_ping", headers=upgrade),
        request("POST", "/v1.41/containers/rfx-no-such-container/attach?stream=1&stdin=1", headers=upgrade),
    ):
        answer = await http(host, first + smuggled, wait_s=3)
        assert b"ServerVersion" not in answer and answer.count(b"HTTP/1.1 ") == 1, answer[:500]


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nX-A: 1\nContent-Length: 5\r\n\r\n",  # a bare LF
        b"GET /_ping\t/x HTTP/1.1\r\nHost: docker\r\n\r\n",
        b"GET /_ping HTTP/1.1 extra\r\nHost: docker\r\n\r\n",
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nContent-Length: -1\r\n\r\n",
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nContent-Length: x\r\n\r\n",
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"GET /_ping HTTP/1.1\r\nHost docker\r\n\r\n",
    ],
)
async def test_malformed_requests_are_refused_before_the_engine(
    proxy: tuple[str, DockerProxy], raw: bytes
) -> None:
    host, _ = proxy
    answer = await http(host, raw)
    assert answer.startswith(b"HTTP/1.1 400 ") and answer.count(b"HTTP/1.1 ") == 1, answer[:300]


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/v1.41/containers/create/"),
        ("POST", "/v1.41/containers/create/?name=x"),
        ("POST", "/v1.41/containers/../build"),
        ("POST", "/v1.41/containers%2Fcreate"),
        ("POST", "/v1.41/v1.41/containers/create"),
        ("POST", "/v1.23/containers/create"),
        ("GET", "/v1.41/images/rfx-sandbox:x%2F..%2F..%2Finfo/json"),
        ("GET", "/v1.41/info?x=/_ping"),
        ("GET", "/v1.41/_ping/"),
        ("GET", "/v1.41/_ping?x=1"),
        ("DELETE", "/v1.41/containers/..?force=1"),
        ("GET", "/v1.41/containers/json?all=1&size=1"),
        ("POST", "/v1.41/containers/x/exec"),
        ("PUT", "/v1.41/containers/x/archive?path=/tmp"),
    ],
)
async def test_path_tricks_are_refused_over_http(
    proxy: tuple[str, DockerProxy], sandbox_image: str, method: str, target: str
) -> None:
    host, _ = proxy
    body = b""
    if "create" in target:
        spec = {"Image": sandbox_image, "User": "65534:65534", "HostConfig": {"Privileged": True}}
        body = json.dumps(spec).encode()
    refusal(await http(host, request(method, target, body)))


async def test_refusals_and_foreign_containers(
    proxy: tuple[str, DockerProxy], sandbox_image: str, docker_client: Any, test_labels: dict[str, str]
) -> None:
    host, instance = proxy
    for flags in (
        ["--privileged"],
        ["-v", "/:/host"],
        ["--pid", "host"],
        ["--cap-add", "SYS_ADMIN"],
        ["--device", "/dev/kmsg"],
        ["--security-opt", "seccomp=unconfined"],
        ["--entrypoint", "sh"],
        ["--log-driver", "syslog", "--log-opt", "syslog-address=udp://127.0.0.1:1"],
        ["--group-add", "0"],
        ["--sysctl", "kernel.shm_rmid_forced=1"],
        ["--ulimit", "memlock=-1"],
    ):
        code, out = await docker(host, "run", "--rm", *judge_flags(), *flags, sandbox_image)
        assert code != 0 and "rfx docker proxy" in out, (flags, out)
    code, out = await docker(host, "build", "-")
    assert code != 0

    # A container the proxy did not create (made on the engine directly) cannot be touched through it.
    foreign = docker_client.containers.run(
        sandbox_image, entrypoint=["sleep", "60"], detach=True, network_mode="none", labels=test_labels
    )
    try:
        for args in (
            ["rm", "-f", foreign.id],
            ["rm", "-f", foreign.name],
            ["wait", foreign.id],
            ["start", foreign.id],
        ):
            code, out = await docker(host, *args)
            assert code != 0 and "not created through this proxy" in out, (args, out)
        answer = await http(host, request("POST", f"/v1.41/containers/{foreign.id}/attach?stream=1&stdout=1"))
        assert "not created through this proxy" in refusal(answer)
        code, out = await docker(host, "ps", "-aq", "--no-trunc")
        assert foreign.id not in out  # listings show only the proxy's own containers
    finally:
        foreign.remove(force=True)

    # Its own container: allowed, labelled, listed, and removed by the sweep.
    code, out = await docker(host, "create", "--rm", *judge_flags(), sandbox_image)
    assert code == 0, out
    own = out.strip().splitlines()[-1]
    assert docker_client.containers.get(own).labels[PROXY_LABEL] == f"test-{TEST_RUN_ID}"
    code, out = await docker(host, "ps", "-aq", "--no-trunc")
    assert own in out
    assert await instance.sweep() >= 1
    assert not docker_client.containers.list(all=True, filters={"id": own})
