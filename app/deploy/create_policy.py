"""The container-create allow-list: every key of the body the proxy lets through, with its values.

A key that is not listed here is refused, whatever its value: a newer engine or CLI that grows a
field gets a 403 until someone decides what that field may hold. Listed keys mostly accept only
their zero value (what the CLI sends when the flag is not given); the few the judge sets
(app/judge/container.py) accept exactly the judge's values, or a bound. Only the judge's own
containers need to pass; anything else is refused with one line naming the key.

Who runs inside: a numeric non-root `uid:gid` (a uid alone takes its group from the image's
/etc/passwd, which is group 0 for a uid it does not list), an empty User only when the image's own
user is such a pair (checked by the proxy against the engine), and the gVisor exception: under
runsc the judge's runner starts as gVisor's root with only SETUID, SETGID and KILL, to drop the
harness and the candidate to two other uids (see app/judge/container.py).

Standard library only, like the rest of app/deploy/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.sandbox_defaults import SANDBOX_BASE_IMAGE
from app.seccomp_profile import runsc_profile

PROXY_LABEL = "rfx.sandbox-proxy"
ROOT_USERS = frozenset({"0", "root", "0:0", "root:root"})  # spellings of gVisor's runner identity
GVISOR_RUNNER_CAPS = frozenset({"SETUID", "SETGID", "KILL"})
NO_NEW_PRIVILEGES = frozenset({"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"})
_NUMERIC_USER = re.compile(r"([1-9][0-9]{0,9}):([1-9][0-9]{0,9})")
_MAX_ID = 2**32 - 2  # (uid_t)-1 means "no change" to the kernel
_TMPFS_SIZE = re.compile(r"size=([0-9]{1,15})([kmg]?)")
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}
_RUNNER_ARG = re.compile(r"--fresh|--nproc=[1-9][0-9]{0,5}")
_HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_IMAGE = re.compile(r"[a-z0-9][a-z0-9_.:/-]{0,254}")
_ZERO: tuple[object, ...] = ("", False, 0, [], {})


class Denied(Exception):
    """The request is outside the policy; the message (one line) says which rule, for the 403 body."""


@dataclass(frozen=True)
class Policy:
    """What the proxy allows; the bounds cover every limit JudgeLimits accepts (with the runner's
    headroom and gVisor's larger host pids limit), so any valid judge configuration fits."""

    allowed_image_prefixes: tuple[str, ...] = ("rfx-sandbox:",)
    inspectable_images: tuple[str, ...] = (SANDBOX_BASE_IMAGE,)  # the judge's base image
    allowed_runtimes: frozenset[str] = frozenset({"runc", "runsc"})
    label_value: str = "1"
    max_memory_bytes: int = (8192 + 64) * 2**20
    max_pids: int = 4 * 4096
    max_nano_cpus: int = 64 * 10**9
    max_shm_bytes: int = 64 * 2**20
    max_tmpfs_bytes: int = 4096 * 2**20


@dataclass(frozen=True)
class Create:
    """An allowed create body (with the proxy's label) and, for an empty User, the image to check."""

    body: bytes
    image_user: str | None


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def non_root_user(user: object) -> bool:
    """A numeric `uid:gid`, both non-zero and below (uid_t)-1: no name lookup, no root group."""
    match = _NUMERIC_USER.fullmatch(user) if isinstance(user, str) else None
    return match is not None and all(int(part) <= _MAX_ID for part in match.groups())


def _int(value: object, name: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise Denied(f"{name}={_show(value)} is not allowed (need an integer from {low} to {high})")
    return value


def _bool(value: object) -> bool:
    return value is None or isinstance(value, bool)


# -- the top level ----------------------------------------------------------------------------------


def check_create(policy: Policy, raw: bytes) -> Create:
    """Validate a create body key by key against the allow-list; return it with the proxy label."""
    spec = load_object(raw)
    for key in spec:
        if key not in _TOP and key != "HostConfig":
            raise Denied(f"{key} is not on the proxy's list of create fields")
    image = spec.get("Image")
    if not (
        isinstance(image, str) and _IMAGE.fullmatch(image) and image.startswith(policy.allowed_image_prefixes)
    ):
        raise Denied(
            f"Image {_show(image)} is not a sandbox image ({', '.join(policy.allowed_image_prefixes)})"
        )
    for key, allowed in _TOP.items():
        if key in spec and not allowed(spec[key]):
            raise Denied(f"{key}={_show(spec[key])} is not allowed")
    host = spec.get("HostConfig")
    if not isinstance(host, dict):
        raise Denied("HostConfig must be an object")
    runtime = _check_host(policy, host)
    image_user = _check_identity(spec.get("User"), runtime, host.get("CapAdd"), image)
    labels = spec.get("Labels") or {}
    spec["Labels"] = {**labels, PROXY_LABEL: policy.label_value}
    return Create(json.dumps(spec).encode(), image_user)


def load_object(raw: bytes) -> dict[str, Any]:
    """One JSON object with no key given twice (a repeated key could hide a value from a check)."""

    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise Denied(
                f"request body gives a key twice ({sorted(k for k in keys if keys.count(k) > 1)[0]})"
            )
        return dict(pairs)

    try:
        value = json.loads(raw, object_pairs_hook=no_repeats)
    except ValueError:
        raise Denied("request body is not JSON") from None
    if not isinstance(value, dict):
        raise Denied("request body is not a JSON object")
    return value


def _labels(value: object) -> bool:
    return value is None or (
        isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    )


def _networking(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, dict) or set(value) - {"EndpointsConfig"}:
        return False
    endpoints = value.get("EndpointsConfig")
    return endpoints is None or (
        isinstance(endpoints, dict)
        and set(endpoints) <= {"none"}
        and all(v in (None, {}) for v in endpoints.values())
    )


def _zero(value: object) -> bool:
    """The engine's default: null, or the empty value of the field's own JSON type."""
    return value is None or any(type(value) is type(zero) and value == zero for zero in _ZERO)


_TOP: dict[str, Callable[[object], bool]] = {
    "Hostname": lambda v: v in (None, "") or (isinstance(v, str) and _HOSTNAME.fullmatch(v) is not None),
    "Domainname": _zero,
    "User": lambda v: True,  # checked with the runtime and capabilities in _check_identity
    "AttachStdin": _bool,
    "AttachStdout": _bool,
    "AttachStderr": _bool,
    "OpenStdin": _bool,
    "StdinOnce": _bool,
    "Tty": lambda v: v is None or v is False,
    "Env": _zero,
    "Cmd": lambda v: (
        v is None or (isinstance(v, list) and all(isinstance(a, str) and _RUNNER_ARG.fullmatch(a) for a in v))
    ),
    "Image": lambda v: True,  # checked first, against the policy's prefixes
    "Volumes": _zero,
    "WorkingDir": _zero,
    "Entrypoint": lambda v: v is None,
    "OnBuild": lambda v: v is None,
    "Labels": _labels,
    "NetworkingConfig": _networking,
}


# -- HostConfig ---------------------------------------------------------------------------------------

# Keys the judge leaves at the engine's default: only their zero value (what the CLI sends) passes.
_HOST_ZERO = frozenset(
    {
        "Binds",
        "ContainerIDFile",
        "PortBindings",
        "VolumeDriver",
        "VolumesFrom",
        "CapAdd",  # except the gVisor runner's three (_check_identity)
        "Dns",
        "DnsOptions",
        "DnsSearch",
        "ExtraHosts",
        "GroupAdd",
        "Links",
        "OomScoreAdj",
        "PidMode",
        "Privileged",
        "PublishAllPorts",
        "UTSMode",
        "UsernsMode",
        "Cgroup",
        "Isolation",
        "CpuShares",
        "CgroupParent",
        "BlkioWeight",
        "BlkioWeightDevice",
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
        "CpuPeriod",
        "CpuQuota",
        "CpuRealtimePeriod",
        "CpuRealtimeRuntime",
        "CpusetCpus",
        "CpusetMems",
        "Devices",
        "DeviceCgroupRules",
        "DeviceRequests",
        "KernelMemory",
        "KernelMemoryTCP",
        "MemoryReservation",
        "OomKillDisable",
        "CpuCount",
        "CpuPercent",
        "IOMaximumIOps",
        "IOMaximumBandwidth",
        "Mounts",
        "Sysctls",
        "StorageOpt",
        "Annotations",
        "Init",
    }
)
_HOST_EXACT: dict[str, tuple[object, ...]] = {
    "NetworkMode": ("none",),
    "ReadonlyRootfs": (True,),
    "AutoRemove": (True,),
    "IpcMode": ("", "private", "none"),
    "CgroupnsMode": ("", "private"),
    "MaskedPaths": (None,),  # an empty list is the CLI's systempaths=unconfined
    "ReadonlyPaths": (None,),
    "MemorySwappiness": (None, -1),
    "ConsoleSize": (None, [0, 0]),
    "LogConfig": ({"Type": "none", "Config": {}}, {"Type": "none", "Config": None}, {"Type": "none"}),
    "RestartPolicy": (None, {"Name": "no", "MaximumRetryCount": 0}, {"Name": "", "MaximumRetryCount": 0}),
    "Ulimits": (None, [], [{"Name": "core", "Hard": 0, "Soft": 0}]),
}
_HOST_REQUIRED = (
    "NetworkMode",
    "ReadonlyRootfs",
    "LogConfig",
    "Runtime",
    "Memory",
    "MemorySwap",
    "PidsLimit",
)
_HOST_OTHER = frozenset(
    {"Runtime", "CapDrop", "SecurityOpt", "Tmpfs", "ShmSize", "Memory", "MemorySwap", "PidsLimit", "NanoCpus"}
)


def _same(value: object, allowed: object) -> bool:
    """Equal and of the same JSON types all the way down (True is not 1, 0 is not False)."""
    return json.dumps(value, sort_keys=True) == json.dumps(allowed, sort_keys=True)


def _check_host(policy: Policy, host: dict[str, Any]) -> str:
    for key in host:
        if key not in _HOST_ZERO and key not in _HOST_EXACT and key not in _HOST_OTHER:
            raise Denied(f"HostConfig.{key} is not on the proxy's list of create fields")
    for key in _HOST_REQUIRED:
        if key not in host:
            raise Denied(f"HostConfig.{key} must be given")
    for key in _HOST_ZERO - {"CapAdd"}:
        if key in host and not _zero(host[key]):
            raise Denied(f"HostConfig.{key}={_show(host[key])} is not allowed (must be empty)")
    for key, allowed in _HOST_EXACT.items():
        if key in host and not any(_same(host[key], a) for a in allowed):
            raise Denied(f"HostConfig.{key}={_show(host[key])} is not allowed")
    runtime = host.get("Runtime")
    if not isinstance(runtime, str) or runtime not in policy.allowed_runtimes:
        runtimes = " or ".join(sorted(policy.allowed_runtimes))
        raise Denied(f"HostConfig.Runtime={_show(runtime)} is not allowed (only {runtimes})")
    drop = host.get("CapDrop")
    if (
        not isinstance(drop, list)
        or not all(isinstance(c, str) for c in drop)
        or "ALL" not in [c.upper() for c in drop]
    ):
        raise Denied("HostConfig.CapDrop must drop ALL capabilities")
    _check_security(host.get("SecurityOpt"), runtime)
    _check_tmpfs(policy, host.get("Tmpfs"))
    memory = _int(host.get("Memory"), "HostConfig.Memory", 4 * 2**20, policy.max_memory_bytes)
    if not _same(host.get("MemorySwap"), memory):
        raise Denied(f"HostConfig.MemorySwap={_show(host.get('MemorySwap'))} must equal Memory (no swap)")
    _int(host.get("PidsLimit"), "HostConfig.PidsLimit", 1, policy.max_pids)
    _int(host.get("NanoCpus"), "HostConfig.NanoCpus", 1, policy.max_nano_cpus)
    _int(host.get("ShmSize"), "HostConfig.ShmSize", 1, policy.max_shm_bytes)
    return runtime


def _check_security(options: object, runtime: str) -> None:
    """no-new-privileges, plus at most the judge's own gVisor seccomp profile under runsc."""
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise Denied("HostConfig.SecurityOpt must include no-new-privileges")
    if not any(o in NO_NEW_PRIVILEGES for o in options):
        raise Denied("HostConfig.SecurityOpt must include no-new-privileges")
    profiles = 0
    for option in options:
        if option in NO_NEW_PRIVILEGES:
            continue
        if not option.startswith(("seccomp=", "seccomp:")):
            raise Denied(f"HostConfig.SecurityOpt {_show(option)} is not allowed")
        if runtime != "runsc":
            raise Denied("HostConfig.SecurityOpt seccomp: runc keeps the engine's default profile")
        try:
            profile = json.loads(option[len("seccomp=") :])
        except ValueError:
            raise Denied("HostConfig.SecurityOpt seccomp is not the judge's profile (not JSON)") from None
        if profile != runsc_profile():
            raise Denied("HostConfig.SecurityOpt seccomp is not the judge's gVisor profile")
        profiles += 1
    if profiles > 1:
        raise Denied("HostConfig.SecurityOpt gives seccomp twice")


def _check_tmpfs(policy: Policy, tmpfs: object) -> None:
    """At most /tmp, not executable, no devices or setuid, with a bounded size."""
    if tmpfs in (None, {}):
        return
    if not isinstance(tmpfs, dict) or set(tmpfs) != {"/tmp"} or not isinstance(tmpfs["/tmp"], str):
        raise Denied(f"HostConfig.Tmpfs={_show(tmpfs)} is not allowed (only /tmp)")
    options = tmpfs["/tmp"].split(",")
    sizes = [_TMPFS_SIZE.fullmatch(o) for o in options if o.startswith("size=")]
    rest = {o for o in options if not o.startswith("size=")}
    if not {"nosuid", "nodev", "noexec"} <= rest or rest - {"rw", "nosuid", "nodev", "noexec", "mode=1777"}:
        raise Denied(f"HostConfig.Tmpfs options {_show(tmpfs['/tmp'])} are not allowed")
    if len(sizes) != 1 or sizes[0] is None:
        raise Denied("HostConfig.Tmpfs needs one size= option")
    size = int(sizes[0][1]) * _UNITS[sizes[0][2]]
    if not 0 < size <= policy.max_tmpfs_bytes:
        raise Denied(f"HostConfig.Tmpfs size {size} is not allowed (at most {policy.max_tmpfs_bytes})")


def _check_identity(user: object, runtime: str, cap_add: object, image: str) -> str | None:
    """The container's user and added capabilities; returns the image to check for an empty User."""
    if cap_add is not None and (
        not isinstance(cap_add, list) or not all(isinstance(c, str) for c in cap_add)
    ):
        raise Denied("HostConfig.CapAdd must be a list of names")
    caps = {c.upper().removeprefix("CAP_") for c in cap_add or []}
    if runtime == "runsc" and isinstance(user, str) and user in ROOT_USERS:
        if not caps <= GVISOR_RUNNER_CAPS:
            raise Denied(f"HostConfig.CapAdd {sorted(caps - GVISOR_RUNNER_CAPS)} are not allowed")
        return None
    if caps:
        raise Denied(
            f"HostConfig.CapAdd {sorted(caps)} is not allowed for User {_show(user)} (only gVisor's runner)"
        )
    if user == "":
        return image  # the image's own USER decides: the proxy checks it with the engine
    if not non_root_user(user):
        raise Denied(f"User {_show(user)} is not allowed (need a numeric non-root uid:gid)")
    return None
