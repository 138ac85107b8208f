"""The Docker proxy's policy on the exact request bodies the docker CLI sends for the judge's sandboxes,
and on the ways out of a sandbox that the proxy must refuse."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from app.deploy.proxy_policy import PROXY_LABEL, Denied, Policy, decide, owned

POLICY = Policy(label_value="stack1")
IMAGE = "rfx-sandbox:0123456789abcdef"


def create_body(**changes: Any) -> dict[str, Any]:
    """What `docker run -i --rm` with the judge's hardening flags posts (docker CLI 20.10, runc)."""
    host: dict[str, Any] = {
        "NetworkMode": "none",
        "Runtime": "runc",
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
        "ReadonlyRootfs": True,
        "Tmpfs": {"/tmp": "rw,nosuid,nodev,noexec,size=64m,mode=1777"},
        "IpcMode": "private",
        "ShmSize": 1048576,
        "Memory": 335544320,
        "MemorySwap": 335544320,
        "PidsLimit": 64,
        "NanoCpus": 1000000000,
        "AutoRemove": True,
        "LogConfig": {"Type": "none"},
    }
    body: dict[str, Any] = {
        "Image": IMAGE,
        "User": "65534:65534",
        "OpenStdin": True,
        "StdinOnce": True,
        "AttachStdin": True,
        "Labels": {"rfx.judge": "1"},
        "HostConfig": host,
        "NetworkingConfig": {"EndpointsConfig": {"none": {}}},
    }
    for key, value in changes.items():
        if key.startswith("host_"):
            host[key.removeprefix("host_")] = value
        else:
            body[key] = value
    return body


def create(body: dict[str, Any]) -> dict[str, Any]:
    decision = decide(
        POLICY, "POST", "/v1.41/containers/create", "name=rfx-judge-1", json.dumps(body).encode()
    )
    assert decision.body is not None
    return dict(json.loads(decision.body))


def test_the_judges_container_is_allowed_and_labelled() -> None:
    created = create(create_body())
    assert created["Labels"] == {"rfx.judge": "1", PROXY_LABEL: "stack1"}
    assert created["HostConfig"]["NetworkMode"] == "none"


def test_gvisor_runner_may_be_root_with_three_capabilities_only() -> None:
    runsc = {"host_Runtime": "runsc", "User": "0:0", "host_CapAdd": ["SETUID", "SETGID", "KILL"]}
    create(create_body(**runsc))
    with pytest.raises(Denied, match="SYS_ADMIN"):
        create(create_body(**{**runsc, "host_CapAdd": ["SETUID", "SYS_ADMIN"]}))
    with pytest.raises(Denied, match="root"):
        create(create_body(User="0:0", host_CapAdd=["SETUID"]))  # runc: never root


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Image": "rfx-debian-python:bookworm"}, "not a sandbox image"),
        ({"Image": "alpine"}, "not a sandbox image"),
        ({"host_Privileged": True}, "privileged"),
        ({"host_NetworkMode": "host"}, "NetworkMode none"),
        ({"host_NetworkMode": "bridge"}, "NetworkMode none"),
        ({"NetworkingConfig": {"EndpointsConfig": {"bridge": {}}}}, "no network"),
        ({"host_Binds": ["/:/host"]}, "Binds"),
        ({"host_Mounts": [{"Type": "bind", "Source": "/", "Target": "/host"}]}, "tmpfs"),
        ({"host_Devices": [{"PathOnHost": "/dev/kmsg"}]}, "Devices"),
        ({"host_CapAdd": ["SYS_ADMIN"]}, "CapAdd"),
        ({"host_CapDrop": []}, "drop all capabilities"),
        ({"host_PidMode": "host"}, "namespace"),
        ({"host_IpcMode": "container:redis"}, "namespace"),
        ({"host_UsernsMode": "host"}, "namespace"),
        ({"host_SecurityOpt": ["no-new-privileges", "seccomp=unconfined"]}, "unconfined"),
        ({"host_SecurityOpt": []}, "no-new-privileges"),
        ({"host_ReadonlyRootfs": False}, "read-only"),
        ({"host_Memory": 0}, "memory limit"),
        ({"host_PidsLimit": -1}, "pids limit"),
        ({"host_Runtime": "nvidia"}, "runtime"),
        ({"User": "root"}, "root"),
        ({"host_VolumesFrom": ["redis"]}, "VolumesFrom"),
        ({"host_CgroupParent": "/"}, "CgroupParent"),
        ({"host_OomKillDisable": True}, "OomKillDisable"),
        ({"host_MaskedPaths": []}, "systempaths"),
        ({"host_PortBindings": {"80/tcp": [{"HostPort": "80"}]}}, "published ports"),
    ],
)
def test_ways_out_of_the_sandbox_are_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(Denied, match=reason):
        create(create_body(**changes))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1.41/build"),
        ("POST", "/v1.41/images/create"),
        ("DELETE", "/v1.41/images/rfx-sandbox:x"),
        ("POST", "/v1.41/volumes/create"),
        ("POST", "/v1.41/networks/create"),
        ("POST", "/v1.41/swarm/init"),
        ("GET", "/v1.41/events"),
        ("POST", "/v1.41/containers/prune"),
        ("POST", "/v1.41/containers/abc/update"),
        ("POST", "/v1.41/containers/abc/commit"),
        ("POST", "/v1.41/plugins/pull"),
        ("GET", "/v1.41/secrets"),
    ],
)
def test_api_calls_the_judge_never_makes_are_refused(method: str, path: str) -> None:
    with pytest.raises(Denied, match="not an API call"):
        decide(POLICY, method, path, "", b"")


def test_calls_on_one_container_need_the_ownership_check() -> None:
    for method, path in [
        ("POST", "/v1.41/containers/rfx-judge-1/attach"),
        ("POST", "/containers/x/start"),
        ("POST", "/v1.41/containers/x/wait"),
        ("DELETE", "/v1.41/containers/x"),
        ("GET", "/v1.41/containers/x/json"),
    ]:
        assert decide(POLICY, method, path, "", b"").container_id is not None
    assert decide(POLICY, "POST", "/v1.41/exec/abc/start", "", b"{}").exec_id == "abc"


def test_exec_as_root_or_privileged_is_refused() -> None:
    for body in ({"Cmd": ["sh"], "Privileged": True}, {"Cmd": ["sh"], "User": "root"}):
        with pytest.raises(Denied):
            decide(POLICY, "POST", "/v1.41/containers/x/exec", "", json.dumps(body).encode())


def test_listing_is_restricted_to_this_stacks_sandboxes() -> None:
    query = "all=1&filters=" + json.dumps({"label": {"rfx.judge=1": True}})
    decision = decide(POLICY, "GET", "/v1.41/containers/json", query, b"")
    assert decision.query is not None
    filters = json.loads(parse_qs(decision.query)["filters"][0])
    assert filters["label"] == ["rfx.judge=1", f"{PROXY_LABEL}=stack1"]
    assert parse_qs(decision.query)["all"] == ["1"]


def test_ownership_is_per_stack() -> None:
    assert owned({PROXY_LABEL: "stack1"}, "stack1")
    assert not owned({PROXY_LABEL: "stack2"}, "stack1")
    assert not owned({"com.docker.compose.project": "stack1"}, "stack1")
    assert not owned(None, "stack1")
