"""What the Docker socket proxy lets through: exactly the Docker API calls the judge needs.

Access to the Docker socket is root on the host: anyone who can create a privileged container or
bind-mount `/` owns the machine. The worker only ever needs to start hardened sandbox containers
from one image family and run code in them, so the proxy (docker_proxy.py) allows that and refuses
everything else with 403:

- read-only calls about the engine (`/_ping`, `/version`, `/info`) and image inspection;
- `POST /containers/create` only for an allowed image, with no network, a read-only root, no
  privileges, no host namespaces, no mounts other than tmpfs, no devices, no added capabilities,
  memory and pids limits, `no-new-privileges`; the proxy stamps its label on every container;
- calls on one container (start, wait, kill, logs, exec, archive, remove) only for containers
  that carry that label, i.e. that the proxy created; exec without `Privileged` or a root user.

Pure functions over parsed requests, so the policy is unit-testable without a socket.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

PROXY_LABEL = "rfx.sandbox-proxy"
_VERSION = r"(?:/v[0-9.]+)?"
_ID = r"[A-Za-z0-9_.\-]+"

ENGINE_READS = re.compile(rf"^{_VERSION}/(?:_ping|version|info)$")
IMAGE_INSPECT = re.compile(rf"^{_VERSION}/images/(?P<name>.+)/json$")
CONTAINER_CREATE = re.compile(rf"^{_VERSION}/containers/create$")
CONTAINER_LIST = re.compile(rf"^{_VERSION}/containers/json$")
CONTAINER_OP = re.compile(
    rf"^{_VERSION}/containers/(?P<id>{_ID})(?:/(?P<op>json|start|wait|kill|stop|logs|attach|archive|exec|resize|top))?$"
)
EXEC_OP = re.compile(rf"^{_VERSION}/exec/(?P<id>{_ID})/(?P<op>start|json|resize)$")

_HOST_NAMESPACE_KEYS = ("PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode")
_FORBIDDEN_SECURITY = ("unconfined", "label=disable", "label:disable")
ROOT_USERS = frozenset({"0", "root", "0:0", "root:root"})
GVISOR_RUNNER_CAPS = frozenset({"SETUID", "SETGID", "KILL"})


class Denied(Exception):
    """The request is outside the policy; the message says which rule, for the 403 body."""


@dataclass(frozen=True)
class Policy:
    allowed_image_prefixes: tuple[str, ...] = ("rfx-sandbox:",)
    allowed_runtimes: frozenset[str] = frozenset({"", "runc", "runsc"})
    label_value: str = "1"


@dataclass(frozen=True)
class Decision:
    """Allowed request, possibly rewritten; `container_id`/`exec_id` still need the ownership check."""

    body: bytes | None = None
    query: str | None = None
    container_id: str | None = None
    exec_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def decide(policy: Policy, method: str, path: str, query: str, body: bytes) -> Decision:
    """Allow (maybe rewritten) or raise Denied. Ownership of named containers is checked by the caller."""
    method = method.upper()
    if method in ("GET", "HEAD") and ENGINE_READS.match(path):
        return Decision()
    if method == "GET" and IMAGE_INSPECT.match(path):
        return Decision()
    if method == "POST" and CONTAINER_CREATE.match(path):
        return Decision(body=check_create(policy, body))
    if method == "GET" and CONTAINER_LIST.match(path):
        return Decision(query=label_filtered_query(query, policy.label_value))
    match = CONTAINER_OP.match(path)
    if match and match["id"] not in ("create", "json", "prune"):
        op = match["op"] or ""
        if (method, op) in {
            ("GET", "json"),
            ("GET", "logs"),
            ("GET", "top"),
            ("GET", "archive"),
            ("HEAD", "archive"),
            ("PUT", "archive"),
            ("POST", "start"),
            ("POST", "wait"),
            ("POST", "kill"),
            ("POST", "stop"),
            ("POST", "attach"),
            ("POST", "resize"),
            ("DELETE", ""),
        }:
            return Decision(container_id=match["id"])
        if (method, op) == ("POST", "exec"):
            check_exec(body)
            return Decision(container_id=match["id"])
    match = EXEC_OP.match(path)
    if match and method in ("POST", "GET"):
        return Decision(exec_id=match["id"])
    raise Denied(f"{method} {path} is not an API call the sandbox judge needs")


def _load(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise Denied("request body is not JSON") from None
    if not isinstance(value, dict):
        raise Denied("request body is not a JSON object")
    return value


def check_create(policy: Policy, body: bytes) -> bytes:
    """Validate a container-create body against the hardening rules; return it with the proxy label."""
    spec = _load(body)
    image = str(spec.get("Image") or "")
    if not image.startswith(policy.allowed_image_prefixes):
        raise Denied(f"image {image!r} is not a sandbox image ({', '.join(policy.allowed_image_prefixes)})")
    host = spec.get("HostConfig") or {}
    if not isinstance(host, dict):
        raise Denied("HostConfig must be an object")
    runtime = str(host.get("Runtime") or "")
    if runtime not in policy.allowed_runtimes:
        raise Denied(f"runtime {runtime!r} is not allowed")
    user = str(spec.get("User") or "")
    cap_add = {str(c).upper().removeprefix("CAP_") for c in host.get("CapAdd") or []}
    if runtime == "runsc" and user in ROOT_USERS:
        # gVisor's root is the sandbox kernel's, and the judge's runner needs these three to drop
        # the harness and the candidate to other uids (see app/judge/container.py).
        if not cap_add <= GVISOR_RUNNER_CAPS:
            raise Denied(f"capabilities {sorted(cap_add - GVISOR_RUNNER_CAPS)} are not allowed")
    elif user in ROOT_USERS:
        raise Denied("sandbox containers may not run as root")
    elif cap_add:
        raise Denied("HostConfig.CapAdd is not allowed")
    if host.get("NetworkMode") != "none":
        raise Denied("sandbox containers need NetworkMode none")
    endpoints = (spec.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    if not isinstance(endpoints, dict) or set(endpoints) - {"none"}:
        raise Denied("sandbox containers may join no network")
    if host.get("Privileged"):
        raise Denied("privileged containers are not allowed")
    if not host.get("ReadonlyRootfs"):
        raise Denied("sandbox containers need a read-only root filesystem")
    for key in (
        "Binds",
        "VolumesFrom",
        "Devices",
        "DeviceRequests",
        "DeviceCgroupRules",
        "Links",
        "Sysctls",
    ):
        if host.get(key):
            raise Denied(f"HostConfig.{key} is not allowed")
    if host.get("CgroupParent"):
        raise Denied("HostConfig.CgroupParent would move the container out of its limits")
    if host.get("OomKillDisable"):
        raise Denied("HostConfig.OomKillDisable is not allowed")
    if host.get("PortBindings") or host.get("PublishAllPorts"):
        raise Denied("published ports are not allowed")
    for key in ("MaskedPaths", "ReadonlyPaths"):
        if host.get(key) == []:  # null is the default; an empty list is the CLI's systempaths=unconfined
            raise Denied(f"HostConfig.{key} may not be emptied (systempaths=unconfined)")
    for mount in host.get("Mounts") or []:
        if not isinstance(mount, dict) or mount.get("Type") != "tmpfs":
            raise Denied("only tmpfs mounts are allowed")
    if spec.get("Volumes"):
        raise Denied("volumes are not allowed")
    for key in _HOST_NAMESPACE_KEYS:
        value = str(host.get(key) or "")
        if value == "host" or value.startswith("container:"):
            raise Denied(f"HostConfig.{key}={value} shares a namespace")
    caps = [str(c).upper() for c in host.get("CapDrop") or []]
    if "ALL" not in caps:
        raise Denied("sandbox containers must drop all capabilities (CapDrop ALL)")
    security = [str(s) for s in host.get("SecurityOpt") or []]
    if not any(
        s.replace(":", "=").startswith("no-new-privileges") and not s.endswith("false") for s in security
    ):
        raise Denied("sandbox containers need security-opt no-new-privileges")
    if any(bad in s for s in security for bad in _FORBIDDEN_SECURITY):
        raise Denied("unconfined seccomp/apparmor/labels are not allowed")
    if not int(host.get("Memory") or 0) > 0:
        raise Denied("sandbox containers need a memory limit")
    if not int(host.get("PidsLimit") or 0) > 0:
        raise Denied("sandbox containers need a pids limit")
    labels = spec.get("Labels") or {}
    if not isinstance(labels, dict):
        raise Denied("Labels must be an object")
    spec["Labels"] = {**labels, PROXY_LABEL: policy.label_value}
    return json.dumps(spec).encode()


def check_exec(body: bytes) -> None:
    spec = _load(body)
    if spec.get("Privileged"):
        raise Denied("privileged exec is not allowed")
    if str(spec.get("User") or "") in ROOT_USERS:
        raise Denied("exec as root is not allowed")


def label_filtered_query(query: str, label_value: str) -> str:
    """A container listing restricted to the proxy's own containers, whatever filters were asked for."""
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "filters"]
    asked = dict(parse_qsl(query)).get("filters")
    filters: dict[str, Any] = {}
    if asked:
        try:
            loaded = json.loads(asked)
            if isinstance(loaded, dict):
                filters = loaded
        except ValueError:
            raise Denied("filters is not JSON") from None
    labels = filters.get("label") or []
    if isinstance(labels, dict):  # the old map form {"k=v": true}
        labels = [k for k, v in labels.items() if v]
    filters["label"] = [*labels, f"{PROXY_LABEL}={label_value}"]
    params.append(("filters", json.dumps(filters)))
    return urlencode(params)


def owned(labels: object, label_value: str) -> bool:
    """Whether a container's labels (from inspect) say this proxy (this stack) created it."""
    return isinstance(labels, dict) and labels.get(PROXY_LABEL) == label_value
