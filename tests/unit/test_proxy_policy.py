"""The Docker proxy's policy, tried as an attacker would: the exact request bodies the docker CLI sends
for the judge's sandboxes pass; every field that could widen a container, every endpoint the judge
never calls and every path trick is refused with a one-line reason."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, quote

import pytest

from app.deploy.proxy_policy import CONTAINER, PROXY_LABEL, Denied, Policy, decide, owned
from app.seccomp_profile import runsc_profile

POLICY = Policy(label_value="stack1")
IMAGE = "rfx-sandbox:0123456789abcdef"
PROFILE = json.dumps(runsc_profile(), separators=(",", ":"), sort_keys=True)  # what the CLI sends


def cli_body(runtime: str = "runc", cli: str = "20.10") -> dict[str, Any]:
    """What `docker run -i --rm` with the judge's hardening flags posts (captured from both CLIs the
    project uses: Debian's 20.10 in the compose image, 28.x on the host), for one runtime."""
    host: dict[str, Any] = {
        "Binds": None,
        "ContainerIDFile": "",
        "LogConfig": {"Type": "none", "Config": {}},
        "NetworkMode": "none",
        "PortBindings": {},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": True,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "CapAdd": None,
        "CapDrop": ["ALL"],
        "CgroupnsMode": "",
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": None,
        "GroupAdd": None,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": True,
        "SecurityOpt": ["no-new-privileges"],
        "Tmpfs": {"/tmp": "rw,nosuid,nodev,noexec,size=16m,mode=1777"},
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 1048576,
        "Runtime": "runc",
        "ConsoleSize": [0, 0],
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 201326592,
        "NanoCpus": 1000000000,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": None,
        "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None,
        "BlkioDeviceWriteIOps": None,
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "KernelMemory": 0,
        "KernelMemoryTCP": 0,
        "MemoryReservation": 0,
        "MemorySwap": 201326592,
        "MemorySwappiness": -1,
        "OomKillDisable": False,
        "PidsLimit": 64,
        "Ulimits": [{"Name": "core", "Hard": 0, "Soft": 0}],
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": None,
        "ReadonlyPaths": None,
    }
    body: dict[str, Any] = {
        "Hostname": "sandbox",
        "Domainname": "",
        "User": "65534:65534",
        "AttachStdin": True,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": False,
        "OpenStdin": True,
        "StdinOnce": True,
        "Env": None,
        "Cmd": None,
        "Image": IMAGE,
        "Volumes": {},
        "WorkingDir": "",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": {"rfx.judge": "1", "rfx.judge.instance": "624fc33833", "rfx.judge.mode": "pooled"},
        "HostConfig": host,
        "NetworkingConfig": {"EndpointsConfig": {}},
    }
    if cli == "28":
        del host["KernelMemory"], host["KernelMemoryTCP"]
        for key in (
            "BlkioDeviceReadBps",
            "BlkioDeviceWriteBps",
            "BlkioDeviceReadIOps",
            "BlkioDeviceWriteIOps",
        ):
            host[key] = []
    if runtime == "runsc":
        body["User"] = "0:0"
        body["Cmd"] = ["--fresh", "--nproc=64"]
        host.update(
            Runtime="runsc",
            PidsLimit=512,
            CapAdd=["CAP_KILL", "CAP_SETGID", "CAP_SETUID"],
            SecurityOpt=[f"seccomp={PROFILE}", "no-new-privileges"],
        )
    return body


def changed(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`host_X=v` sets HostConfig.X, `X=v` sets a top-level key; the value `...` deletes the key."""
    for key, value in changes.items():
        target, name = (
            (body["HostConfig"], key.removeprefix("host_")) if key.startswith("host_") else (body, key)
        )
        if value is ...:
            target.pop(name, None)
        else:
            target[name] = value
    return body


def create(body: dict[str, Any], path: str = "/v1.41/containers/create") -> dict[str, Any]:
    decision = decide(POLICY, "POST", path, "name=rfx-judge-1", json.dumps(body).encode())
    assert decision.body is not None
    return dict(json.loads(decision.body))


@pytest.mark.parametrize("cli", ["20.10", "28"])
@pytest.mark.parametrize("runtime", ["runc", "runsc"])
def test_the_judges_own_containers_are_allowed_and_labelled(runtime: str, cli: str) -> None:
    created = create(cli_body(runtime, cli))
    assert created["Labels"][PROXY_LABEL] == "stack1"
    assert created["HostConfig"]["NetworkMode"] == "none"


def test_a_forged_proxy_label_is_overwritten() -> None:
    created = create(changed(cli_body(), Labels={PROXY_LABEL: "other-stack"}))
    assert created["Labels"] == {PROXY_LABEL: "stack1"}


# --- item 5: who the container runs as -------------------------------------------------------------

ROOT_IN_DISGUISE = ["0:1000", "root:1000", "0:0:", "00", "0:nogroup", "root:nogroup"]


@pytest.mark.parametrize(
    "user",
    [
        *ROOT_IN_DISGUISE,
        "0",
        "root",
        "0:0",
        "root:root",
        "1000:0",  # root's group
        "1000:root",
        "1000",  # a uid alone takes its group from the image's /etc/passwd: root's for unknown uids
        "65534",
        "nobody",
        "nobody:nogroup",
        "65534:nogroup",
        "-1:1000",
        "+1000:1000",
        " 1000:1000",
        "1000:1000 ",
        "1000:1000:",
        "0x3e8:1000",
        "\uff11\uff10\uff10\uff10:1000",  # fullwidth digits: str.isdigit() would say yes
        "99999999999:1000",
        1000,
        None,
    ],
)
def test_root_or_unproven_users_are_refused(user: object) -> None:
    body = changed(cli_body(), User=user)
    with pytest.raises(Denied, match="User"):
        create(body)


@pytest.mark.parametrize("user", [*ROOT_IN_DISGUISE, "1000:0", "0:", ":0", "root:", "0:0:0"])
def test_the_gvisor_exception_stays_as_narrow_as_documented(user: str) -> None:
    """The runner under runsc may be root with SETUID/SETGID/KILL, but only as one of the spellings
    of 0:0; any other group (or a malformed spelling) is refused like on runc."""
    with pytest.raises(Denied, match="User"):
        create(changed(cli_body("runsc"), User=user))


@pytest.mark.parametrize("user", ["0", "root", "0:0", "root:root"])
def test_gvisor_runner_may_be_root_with_three_capabilities_only(user: str) -> None:
    create(changed(cli_body("runsc"), User=user))
    create(changed(cli_body("runsc"), User=user, host_CapAdd=["SETUID", "KILL"]))
    with pytest.raises(Denied, match="SYS_ADMIN"):
        create(changed(cli_body("runsc"), User=user, host_CapAdd=["SETUID", "SYS_ADMIN"]))
    with pytest.raises(Denied, match="User"):  # runc: never root, whatever the capabilities
        create(changed(cli_body("runc"), User=user))
    with pytest.raises(Denied, match="CapAdd"):  # runsc as nobody: no capabilities to add
        create(changed(cli_body("runsc"), User="65534:65534"))


@pytest.mark.parametrize("user", ["65534:65534", "1000:1000", "1:1", "4294967294:4294967294"])
def test_numeric_non_root_users_are_allowed(user: str) -> None:
    assert create(changed(cli_body(), User=user))["User"] == user


def test_an_empty_user_needs_the_image_user_check() -> None:
    """Empty means the image's own USER: the proxy must look it up (Decision.image_user)."""
    decision = decide(
        POLICY, "POST", "/containers/create", "", json.dumps(changed(cli_body(), User="")).encode()
    )
    assert decision.image_user == IMAGE
    decision = decide(POLICY, "POST", "/containers/create", "", json.dumps(cli_body()).encode())
    assert decision.image_user is None
    with pytest.raises(Denied, match="User"):  # runsc's exception is for an explicit root runner only
        create(changed(cli_body("runsc"), User=""))


# --- item 6: seccomp -------------------------------------------------------------------------------


def test_the_judges_seccomp_profile_is_compared_as_parsed_json() -> None:
    pretty = json.dumps(runsc_profile(), indent=4)  # same profile, other text
    create(changed(cli_body("runsc"), host_SecurityOpt=["no-new-privileges", f"seccomp={pretty}"]))
    create(changed(cli_body("runsc"), host_SecurityOpt=["no-new-privileges:true", f"seccomp:{PROFILE}"]))
    create(changed(cli_body("runsc"), host_SecurityOpt=["no-new-privileges"]))  # the engine's default
    weaker = runsc_profile()
    weaker["syscalls"] = []  # type: ignore[index]
    for opt in (
        "seccomp=" + json.dumps(weaker),
        "seccomp=" + json.dumps({**runsc_profile(), "defaultAction": "SCMP_ACT_ALLOW", "extra": 1}),
        "seccomp=unconfined",
        "seccomp={not json",
        "seccomp=/etc/profile.json",
    ):
        with pytest.raises(Denied, match="seccomp"):
            create(changed(cli_body("runsc"), host_SecurityOpt=["no-new-privileges", opt]))
    with pytest.raises(Denied, match="seccomp"):  # runc keeps Docker's default (an allow-list)
        create(changed(cli_body("runc"), host_SecurityOpt=["no-new-privileges", f"seccomp={PROFILE}"]))


# --- item 8: the create allow-list -----------------------------------------------------------------

WIDENING = [
    ({"host_Binds": ["/:/host"]}, "Binds"),
    ({"host_Binds": ["/var/run/docker.sock:/s"]}, "Binds"),
    ({"host_Mounts": [{"Type": "bind", "Source": "/", "Target": "/host"}]}, "Mounts"),
    ({"host_Mounts": [{"Type": "tmpfs", "Target": "/x", "TmpfsOptions": {"Mode": 1777}}]}, "Mounts"),
    ({"host_Mounts": [{"Type": "volume", "Source": "redis-data", "Target": "/d"}]}, "Mounts"),
    ({"host_Devices": [{"PathOnHost": "/dev/kmsg", "PathInContainer": "/dev/kmsg"}]}, "Devices"),
    ({"host_DeviceCgroupRules": ["c *:* rwm"]}, "DeviceCgroupRules"),
    ({"host_DeviceRequests": [{"Driver": "nvidia", "Count": -1}]}, "DeviceRequests"),
    ({"host_CapAdd": ["SYS_ADMIN"]}, "CapAdd"),
    ({"host_CapAdd": ["ALL"]}, "CapAdd"),
    ({"host_CapDrop": []}, "CapDrop"),
    ({"host_CapDrop": None}, "CapDrop"),
    ({"host_CapDrop": ["NET_RAW"]}, "CapDrop"),
    ({"host_Privileged": True}, "Privileged"),
    ({"host_PidMode": "host"}, "PidMode"),
    ({"host_PidMode": "container:redis"}, "PidMode"),
    ({"host_IpcMode": "host"}, "IpcMode"),
    ({"host_IpcMode": "container:redis"}, "IpcMode"),
    ({"host_IpcMode": "shareable"}, "IpcMode"),
    ({"host_UTSMode": "host"}, "UTSMode"),
    ({"host_UsernsMode": "host"}, "UsernsMode"),
    ({"host_CgroupnsMode": "host"}, "CgroupnsMode"),
    ({"host_Cgroup": "container:redis"}, "Cgroup"),
    ({"host_CgroupParent": "/"}, "CgroupParent"),
    ({"host_SecurityOpt": ["no-new-privileges", "apparmor=unconfined"]}, "SecurityOpt"),
    ({"host_SecurityOpt": ["no-new-privileges", "label=disable"]}, "SecurityOpt"),
    ({"host_SecurityOpt": ["no-new-privileges", "label:type:spc_t"]}, "SecurityOpt"),
    ({"host_SecurityOpt": ["no-new-privileges=false"]}, "no-new-privileges"),
    ({"host_SecurityOpt": []}, "no-new-privileges"),
    ({"host_SecurityOpt": None}, "no-new-privileges"),
    ({"host_MaskedPaths": []}, "MaskedPaths"),
    ({"host_ReadonlyPaths": []}, "ReadonlyPaths"),
    ({"host_Sysctls": {"kernel.shm_rmid_forced": "1"}}, "Sysctls"),
    ({"host_Sysctls": {"net.ipv4.ip_unprivileged_port_start": "0"}}, "Sysctls"),
    ({"host_Ulimits": [{"Name": "nofile", "Soft": 1048576, "Hard": 1048576}]}, "Ulimits"),
    ({"host_Ulimits": [{"Name": "memlock", "Soft": -1, "Hard": -1}]}, "Ulimits"),
    ({"host_Ulimits": [{"Name": "core", "Soft": -1, "Hard": -1}]}, "Ulimits"),
    ({"host_Runtime": "nvidia"}, "Runtime"),
    ({"host_Runtime": "io.containerd.runc.v2"}, "Runtime"),
    ({"host_Runtime": ""}, "Runtime"),
    ({"host_Runtime": ...}, "Runtime"),
    ({"host_NetworkMode": "host"}, "NetworkMode"),
    ({"host_NetworkMode": "bridge"}, "NetworkMode"),
    ({"host_NetworkMode": "container:redis"}, "NetworkMode"),
    ({"host_NetworkMode": "reflexion_backend"}, "NetworkMode"),
    ({"host_NetworkMode": ...}, "NetworkMode"),
    ({"NetworkingConfig": {"EndpointsConfig": {"bridge": {}}}}, "NetworkingConfig"),
    ({"NetworkingConfig": {"EndpointsConfig": {"none": {"IPAddress": "10.0.0.9"}}}}, "NetworkingConfig"),
    ({"host_ExtraHosts": ["host.docker.internal:host-gateway"]}, "ExtraHosts"),
    ({"host_Dns": ["10.0.0.1"]}, "Dns"),
    ({"host_Links": ["redis:redis"]}, "Links"),
    ({"User": "0:1000"}, "User"),
    ({"host_GroupAdd": ["0"]}, "GroupAdd"),
    ({"host_GroupAdd": ["docker"]}, "GroupAdd"),
    ({"host_VolumesFrom": ["reflexion-redis-1"]}, "VolumesFrom"),
    ({"Volumes": {"/data": {}}}, "Volumes"),
    ({"host_VolumeDriver": "local"}, "VolumeDriver"),
    ({"host_Tmpfs": {"/tmp": "rw,exec,size=16m"}}, "Tmpfs"),
    ({"host_Tmpfs": {"/tmp": "rw,nosuid,nodev,noexec,size=16m,mode=1777,suid"}}, "Tmpfs"),
    ({"host_Tmpfs": {"/tmp": "rw,nosuid,nodev,noexec,size=16m,mode=1777,dev"}}, "Tmpfs"),
    ({"host_Tmpfs": {"/tmp": "rw,nosuid,nodev,noexec,mode=1777"}}, "Tmpfs"),  # no size: half the RAM
    ({"host_Tmpfs": {"/tmp": "rw,nosuid,nodev,noexec,size=100g,mode=1777"}}, "Tmpfs"),
    ({"host_Tmpfs": {"/tmp": "rw,nosuid,nodev,noexec,size=16m,uid=0"}}, "Tmpfs"),
    ({"host_Tmpfs": {"/etc": "rw,nosuid,nodev,noexec,size=16m,mode=1777"}}, "Tmpfs"),
    ({"host_PortBindings": {"80/tcp": [{"HostPort": "80"}]}}, "PortBindings"),
    ({"host_PublishAllPorts": True}, "PublishAllPorts"),
    ({"ExposedPorts": {"80/tcp": {}}}, "ExposedPorts"),
    ({"host_LogConfig": {"Type": "syslog", "Config": {"syslog-address": "udp://10.0.0.1:514"}}}, "LogConfig"),
    ({"host_LogConfig": {"Type": "gelf", "Config": {"gelf-address": "udp://10.0.0.1:12201"}}}, "LogConfig"),
    ({"host_LogConfig": {"Type": "fluentd", "Config": {}}}, "LogConfig"),
    ({"host_LogConfig": {"Type": "json-file", "Config": {}}}, "LogConfig"),
    ({"host_LogConfig": {"Type": "none", "Config": {"max-size": "1g"}}}, "LogConfig"),
    ({"host_LogConfig": ...}, "LogConfig"),
    ({"host_Memory": 0}, "Memory"),
    ({"host_Memory": ...}, "Memory"),
    ({"host_Memory": 64 * 2**30}, "Memory"),
    ({"host_Memory": "201326592"}, "Memory"),
    ({"host_Memory": True}, "Memory"),
    ({"host_MemorySwap": -1}, "MemorySwap"),
    ({"host_MemorySwap": 0}, "MemorySwap"),
    ({"host_MemorySwap": ...}, "MemorySwap"),
    ({"host_MemorySwap": 2 * 201326592}, "MemorySwap"),
    ({"host_MemorySwappiness": 100}, "MemorySwappiness"),
    ({"host_MemoryReservation": 64 * 2**30}, "MemoryReservation"),
    ({"host_KernelMemory": -1}, "KernelMemory"),
    ({"host_OomKillDisable": True}, "OomKillDisable"),
    ({"host_OomScoreAdj": -1000}, "OomScoreAdj"),
    ({"host_PidsLimit": 0}, "PidsLimit"),
    ({"host_PidsLimit": -1}, "PidsLimit"),
    ({"host_PidsLimit": ...}, "PidsLimit"),
    ({"host_PidsLimit": 10**9}, "PidsLimit"),
    ({"host_NanoCpus": 0}, "NanoCpus"),
    ({"host_NanoCpus": ...}, "NanoCpus"),
    ({"host_NanoCpus": 10**15}, "NanoCpus"),
    ({"host_CpuQuota": -1}, "CpuQuota"),
    ({"host_CpuShares": 262144}, "CpuShares"),
    ({"host_CpuRealtimeRuntime": 950000}, "CpuRealtimeRuntime"),
    ({"host_CpusetCpus": "0-63"}, "CpusetCpus"),
    ({"host_BlkioWeight": 1000}, "BlkioWeight"),
    ({"host_ShmSize": ...}, "ShmSize"),
    ({"host_ShmSize": 0}, "ShmSize"),
    ({"host_ShmSize": 64 * 2**30}, "ShmSize"),
    ({"host_StorageOpt": {"size": "1T"}}, "StorageOpt"),
    ({"host_Annotations": {"dev.gvisor.spec.mount.host": "/"}}, "Annotations"),
    ({"host_Init": True}, "Init"),
    ({"host_ReadonlyRootfs": False}, "ReadonlyRootfs"),
    ({"host_ReadonlyRootfs": ...}, "ReadonlyRootfs"),
    ({"host_RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}}, "RestartPolicy"),
    ({"host_AutoRemove": False}, "AutoRemove"),
    ({"host_Isolation": "process"}, "Isolation"),
    ({"host_ContainerIDFile": "/etc/passwd"}, "ContainerIDFile"),
    ({"host_NewField": 1}, "NewField"),
    ({"Entrypoint": ["/bin/sh", "-c", "id"]}, "Entrypoint"),
    ({"Entrypoint": [""]}, "Entrypoint"),
    ({"Cmd": ["sh", "-c", "id"]}, "Cmd"),
    ({"Cmd": ["--fresh", "--nproc=64", "--debug"]}, "Cmd"),
    ({"Env": ["LD_PRELOAD=/tmp/x.so"]}, "Env"),
    ({"WorkingDir": "/proc"}, "WorkingDir"),
    ({"Tty": True}, "Tty"),
    ({"Healthcheck": {"Test": ["CMD", "sh"]}}, "Healthcheck"),
    ({"StopSignal": "SIGKILL"}, "StopSignal"),
    ({"MacAddress": "02:42:ac:11:00:02"}, "MacAddress"),
    ({"Labels": ["a=b"]}, "Labels"),
    ({"Labels": {"a": 1}}, "Labels"),
    ({"Image": "rfx-debian-python:bookworm"}, "Image"),
    ({"Image": "alpine"}, "Image"),
    ({"Image": "rfx-sandbox:x@sha256:00"}, "Image"),
    ({"Image": ...}, "Image"),
    ({"HostConfig": None}, "HostConfig"),
    ({"HostConfig": []}, "HostConfig"),
]


@pytest.mark.parametrize(
    ("changes", "field"), WIDENING, ids=[f"{i}-{f}" for i, (_, f) in enumerate(WIDENING)]
)
@pytest.mark.parametrize("runtime", ["runc", "runsc"])
def test_every_widening_field_is_refused(changes: dict[str, Any], field: str, runtime: str) -> None:
    with pytest.raises(Denied, match=field) as refused:
        create(changed(cli_body(runtime), **changes))
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 300


@pytest.mark.parametrize("body", [b"", b"[]", b"null", b"{", b'{"Image": "rfx-sandbox:x"', b"{}" * 2])
def test_bodies_that_are_not_one_json_object_are_refused(body: bytes) -> None:
    with pytest.raises(Denied):
        decide(POLICY, "POST", "/containers/create", "", body)


def test_duplicate_keys_cannot_hide_a_value() -> None:
    """JSON with a key twice: Python keeps the last, Go's decoder too, but refuse it anyway."""
    text = json.dumps(cli_body())[:-1] + ', "User": "0:0"}'
    with pytest.raises(Denied, match="twice"):
        decide(POLICY, "POST", "/containers/create", "", text.encode())


# --- items 6 and 8: endpoints and paths ------------------------------------------------------------

ALLOWED = [
    ("HEAD", "/_ping", ""),
    ("GET", "/_ping", ""),
    ("GET", "/v1.41/_ping", ""),
    ("GET", "/version", ""),
    ("GET", f"/v1.41/images/{IMAGE}/json", ""),
    ("GET", "/v1.41/images/rfx-debian-python:bookworm/json", ""),
    ("GET", "/v1.41/containers/json", "all=1&filters=" + quote('{"label":{"rfx.judge":true}}')),
    ("POST", "/v1.41/containers/abc/attach", "stderr=1&stdin=1&stdout=1&stream=1"),
    ("POST", "/v1.41/containers/abc/start", ""),
    ("POST", "/v1.41/containers/abc/wait", "condition=removed"),
    ("DELETE", "/v1.41/containers/rfx-judge-1", "force=1"),
    ("GET", "/v1.41/events", "filters=" + quote('{"container":{"x":true},"event":{"oom":true}}')),
]


@pytest.mark.parametrize(("method", "path", "query"), ALLOWED)
def test_exactly_the_judges_calls_are_allowed(method: str, path: str, query: str) -> None:
    decide(POLICY, method, path, query, b"")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1.41/containers/abc/exec"),
        ("POST", "/v1.41/exec/abc/start"),
        ("GET", "/v1.41/exec/abc/json"),
        ("PUT", "/v1.41/containers/abc/archive"),
        ("GET", "/v1.41/containers/abc/archive"),
        ("HEAD", "/v1.41/containers/abc/archive"),
        ("GET", "/v1.41/containers/abc/export"),
        ("GET", "/v1.41/containers/abc/json"),
        ("GET", "/v1.41/containers/abc/logs"),
        ("GET", "/v1.41/containers/abc/top"),
        ("GET", "/v1.41/containers/abc/changes"),
        ("GET", "/v1.41/containers/abc/stats"),
        ("POST", "/v1.41/containers/abc/kill"),
        ("POST", "/v1.41/containers/abc/stop"),
        ("POST", "/v1.41/containers/abc/restart"),
        ("POST", "/v1.41/containers/abc/pause"),
        ("POST", "/v1.41/containers/abc/rename"),
        ("POST", "/v1.41/containers/abc/resize"),
        ("POST", "/v1.41/containers/abc/update"),
        ("POST", "/v1.41/containers/abc/commit"),
        ("POST", "/v1.41/commit"),
        ("POST", "/v1.41/containers/prune"),
        ("GET", "/v1.41/info"),
        ("GET", "/v1.41/system/df"),
        ("POST", "/v1.41/build"),
        ("POST", "/v1.41/images/create"),
        ("POST", "/v1.41/images/load"),
        ("GET", "/v1.41/images/json"),
        ("GET", "/v1.41/images/get"),
        ("DELETE", f"/v1.41/images/{IMAGE}"),
        ("POST", f"/v1.41/images/{IMAGE}/tag"),
        ("POST", f"/v1.41/images/{IMAGE}/push"),
        ("GET", "/v1.41/images/reflexion-service:latest/json"),  # the service image's env
        ("GET", "/v1.41/images/alpine/json"),
        ("POST", "/v1.41/volumes/create"),
        ("GET", "/v1.41/volumes"),
        ("POST", "/v1.41/networks/create"),
        ("POST", "/v1.41/networks/none/connect"),
        ("GET", "/v1.41/networks"),
        ("POST", "/v1.41/swarm/init"),
        ("POST", "/v1.41/session"),
        ("POST", "/v1.41/auth"),
        ("POST", "/v1.41/plugins/pull"),
        ("GET", "/v1.41/secrets"),
        ("GET", "/v1.41/configs"),
        ("GET", "/v1.41/distribution/alpine/json"),
        ("PUT", "/v1.41/containers/create"),
        ("GET", "/v1.41/containers/create"),
        ("DELETE", "/v1.41/containers/json"),
        ("POST", "/v1.41/events"),
        ("PATCH", "/v1.41/containers/abc"),
        ("OPTIONS", "/_ping"),
        ("CONNECT", "/_ping"),
    ],
)
def test_calls_the_judge_never_makes_are_refused(method: str, path: str) -> None:
    with pytest.raises(Denied, match=r"not an API call|neither a sandbox image nor the judge's base image"):
        decide(POLICY, method, path, "", b"")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1.41/containers/create/"),
        ("POST", "//containers/create"),
        ("POST", "/v1.41//containers/create"),
        ("POST", "/v1.41/containers/../build"),
        ("POST", "/v1.41/containers/abc/../../build"),
        ("DELETE", "/v1.41/containers/.."),
        ("DELETE", "/v1.41/containers/."),
        ("POST", "/v1.41/containers/./create"),
        ("POST", "/v1.41/containers%2Fcreate"),
        ("POST", "/v1.41/containers/abc%2F..%2F..%2Fbuild/start"),
        ("POST", "/v1.41/%63ontainers/create"),
        ("GET", "/v1.41/images/rfx-sandbox:x%2F..%2F..%2Finfo/json"),
        ("GET", "/v1.41/images/rfx-sandbox:x/../../info/json"),
        ("GET", "/v1.41/images/rfx-sandbox:x/json/"),
        ("GET", "/v1.41/_ping/"),
        ("POST", "/v1.41/v1.41/containers/create"),
        ("POST", "/v2/containers/create"),
        ("POST", "/v1.41.0/containers/create"),
        ("POST", "/V1.41/containers/create"),
        ("POST", "/v1.23/containers/abc/start"),  # old API: start takes a HostConfig body
        ("POST", "/v1.12/containers/create"),
        ("POST", "/v/containers/create"),
        ("POST", "http://docker/containers/create"),
        ("POST", "containers/create"),
        ("POST", "/containers/create#x"),
        ("POST", "/containers/create\\"),
        ("POST", "/containers/{x}/start"),
        ("POST", "/containers/abc\x00/start"),
        ("DELETE", "/v1.41/containers/-abc"),
        ("DELETE", "/v1.41/containers/" + "a" * 300),
    ],
)
def test_path_tricks_are_refused(method: str, path: str) -> None:
    with pytest.raises(Denied) as refused:
        decide(POLICY, method, path, "", json.dumps(cli_body()).encode() if "create" in path else b"")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("POST", "/containers/create", "name=x&platform=linux"),
        ("POST", "/containers/create", "name=../x"),
        ("POST", "/containers/create", "name=x&name=y"),
        ("POST", "/containers/abc/start", "detachKeys=ctrl-a"),
        ("POST", "/containers/abc/attach", "stderr=1&stdin=1&stdout=1&stream=1&logs=1"),
        ("POST", "/containers/abc/attach", "stream=1;logs=1"),
        ("POST", "/containers/abc/wait", "condition=forever"),
        ("DELETE", "/containers/abc", "force=1&link=1"),
        ("DELETE", "/containers/abc", "force=1&v=1&v=1"),
        ("GET", "/containers/json", "all=1&size=1"),
        ("GET", "/_ping", "x=1"),
        ("GET", f"/images/{IMAGE}/json", "x=1"),
        ("GET", "/events", "since=0&until=now"),
        ("GET", "/events", "filters=" + quote('{"type":["image"]}')),
        ("GET", "/events", "filters=" + quote('{"daemon":["x"]}')),
        ("GET", "/events", "filters=not-json"),
    ],
)
def test_query_strings_off_the_list_are_refused(method: str, path: str, query: str) -> None:
    with pytest.raises(Denied):
        decide(POLICY, method, path, query, json.dumps(cli_body()).encode() if "create" in path else b"")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1.41/containers/abc/start"),
        ("POST", "/v1.41/containers/abc/wait"),
        ("POST", "/v1.41/containers/abc/attach"),
        ("DELETE", "/v1.41/containers/abc"),
        ("GET", "/v1.41/containers/json"),
        ("GET", "/_ping"),
    ],
)
def test_only_create_carries_a_body(method: str, path: str) -> None:
    """The engine still applies a HostConfig sent with `start` for API versions below 1.24."""
    with pytest.raises(Denied, match="body"):
        decide(POLICY, method, path, "", b'{"Privileged": true, "Binds": ["/:/host"]}')


def test_calls_on_one_container_name_it_for_the_ownership_check() -> None:
    for method, path, query in ALLOWED:
        decision = decide(POLICY, method, path, query, b"")
        if "/containers/" in path and not path.endswith("/json"):
            assert decision.container_id is not None and CONTAINER in (decision.path or ""), path
    decision = decide(POLICY, "POST", "/v1.41/containers/rfx-judge-1/attach", "stream=1&stdin=1", b"")
    assert decision.upgrade and decision.container_id == "rfx-judge-1"
    assert decision.path == f"/v1.41/containers/{CONTAINER}/attach"
    assert not decide(POLICY, "POST", "/v1.41/containers/x/start", "", b"").upgrade


def test_listing_is_restricted_to_this_stacks_sandboxes() -> None:
    query = "all=1&filters=" + quote(json.dumps({"label": {"rfx.judge=1": True}}))
    decision = decide(POLICY, "GET", "/v1.41/containers/json", query, b"")
    assert decision.query is not None
    filters = json.loads(parse_qs(decision.query)["filters"][0])
    assert filters["label"] == ["rfx.judge=1", f"{PROXY_LABEL}=stack1"]
    assert parse_qs(decision.query)["all"] == ["1"]


def test_events_are_restricted_to_this_stacks_containers() -> None:
    asked = {"container": {"rfx-judge-1": True}, "event": {"oom": True}, "label": ["rfx.judge"]}
    query = f"filters={quote(json.dumps(asked))}&since=1796416039.718&until=1796416041.925"
    decision = decide(POLICY, "GET", "/v1.41/events", query, b"")
    assert decision.query is not None
    sent = parse_qs(decision.query)
    filters = json.loads(sent["filters"][0])
    assert filters["label"] == ["rfx.judge", f"{PROXY_LABEL}=stack1"]
    assert filters["type"] == ["container"]
    assert filters["container"] == ["rfx-judge-1"] and filters["event"] == ["oom"]
    assert sent["since"] == ["1796416039.718"] and sent["until"] == ["1796416041.925"]
    bare = decide(POLICY, "GET", "/events", "", b"")  # no filter at all: still only ours
    assert json.loads(parse_qs(bare.query or "")["filters"][0])["label"] == [f"{PROXY_LABEL}=stack1"]


def test_ownership_is_per_stack() -> None:
    assert owned({PROXY_LABEL: "stack1"}, "stack1")
    assert not owned({PROXY_LABEL: "stack2"}, "stack1")
    assert not owned({"com.docker.compose.project": "stack1"}, "stack1")
    assert not owned(None, "stack1")
