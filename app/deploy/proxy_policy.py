"""What the Docker socket proxy lets through: exactly the Docker API calls the judge makes.

Access to the Docker socket is root on the host: anyone who can create a privileged container or
bind-mount `/` owns the machine. The judge only ever starts hardened sandbox containers of one image
family with `docker run -i --rm`, removes them, lists them and reads their `oom` events, and the
readiness check inspects images. The proxy (docker_proxy.py) allows those calls, with the query
parameters the docker CLI and the Python SDK send for them, and refuses everything else with 403:

    HEAD|GET /_ping   GET /version   GET /images/{sandbox or base image}/json
    POST /containers/create?name=          the allow-list of create_policy.py; the proxy's label added
    POST /containers/{id}/attach?stream=&stdin=&stdout=&stderr=    the only upgraded (hijacked) call
    POST /containers/{id}/start   POST /containers/{id}/wait?condition=   DELETE /containers/{id}?force=
    GET /containers/json?all=&filters=     rewritten: only containers carrying the proxy's label
    GET /events?filters=&since=&until=     rewritten: only container events of the proxy's label

Calls on one container are forwarded by the engine's id after the proxy has checked that the
container carries its label (docker_proxy.py). Only create carries a body: API versions below 1.24
let `start` carry a HostConfig that engine 20.10 still applies, so versions below 1.40 are refused
too. Paths are taken literally: no percent-encoding, no empty, `.` or `..` segment, no trailing
slash, one optional `/v1.NN` prefix; query keys off the list, or given twice, are refused.

Pure functions over parsed requests, so the policy is unit-testable without a socket.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from app.deploy.create_policy import PROXY_LABEL, Denied, Policy, check_create

__all__ = ["CONTAINER", "PROXY_LABEL", "Decision", "Denied", "Policy", "decide", "owned"]

CONTAINER = "{container}"  # stands for the container's id in Decision.path; no real path has braces
MIN_API = 40  # v1.40: Docker 19.03; the judge's CLIs negotiate 1.41 with engine 20.10
_PATH = re.compile(r"/[A-Za-z0-9_.:/@-]*")
_VERSION = re.compile(r"/v1\.([0-9]{2})(/.*)")
_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_CONTAINER_OP = re.compile(rf"/containers/(?P<id>{_ID})(?:/(?P<op>attach|start|wait))?")
_IMAGE_INSPECT = re.compile(r"/images/(?P<name>[A-Za-z0-9][A-Za-z0-9_.:/@-]*)/json")
_TIMESTAMP = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
_FLAG = frozenset({"1", "true", "True"})


@dataclass(frozen=True)
class Decision:
    """An allowed request as it goes to the engine: path (with CONTAINER for the owned container's
    id), query and body when rewritten, and what the proxy must still check with the engine."""

    path: str
    query: str | None = None
    body: bytes | None = None
    container_id: str | None = None  # must carry the proxy's label; forwarded by its real id
    image_user: str | None = None  # the create has an empty User: this image's user must be non-root
    upgrade: bool = False  # the engine may hijack the connection (attach)


def decide(policy: Policy, method: str, path: str, query: str, body: bytes) -> Decision:
    """Allow (maybe rewritten) or raise Denied. Ownership and image users are checked by the caller."""
    prefix, route = _split(path)
    params = _params(query)
    call = f"{method} {path}"
    if body and (method, route) != ("POST", "/containers/create"):
        raise Denied(f"{call} may not carry a request body")
    if route == "/_ping" and method in ("GET", "HEAD"):
        return _plain(path, params)
    if route == "/version" and method == "GET":
        return _plain(path, params)
    image = _IMAGE_INSPECT.fullmatch(route)
    if image and method == "GET":
        name = image["name"]
        if not (name.startswith(policy.allowed_image_prefixes) or name in policy.inspectable_images):
            raise Denied(f"image {name} is neither a sandbox image nor the judge's base image")
        return _plain(path, params)
    if route == "/containers/create" and method == "POST":
        _only(params, {"name": re.compile(_ID)})
        created = check_create(policy, body)
        return Decision(path=path, body=created.body, image_user=created.image_user)
    if route == "/containers/json" and method == "GET":
        _only(params, {"all": _FLAG, "filters": None})
        return Decision(path=path, query=_with_label(params, policy.label_value))
    if route == "/events" and method == "GET":
        _only(params, {"filters": None, "since": _TIMESTAMP, "until": _TIMESTAMP})
        return Decision(path=path, query=_events(params, policy.label_value))
    op = _CONTAINER_OP.fullmatch(route)
    if op and op["id"] not in ("create", "json", "prune"):
        forward = f"{prefix}/containers/{CONTAINER}" + (f"/{op['op']}" if op["op"] else "")
        allowed_query = _CONTAINER_CALLS.get((method, op["op"] or ""))
        if allowed_query is not None:
            _only(params, allowed_query)
            return Decision(path=forward, container_id=op["id"], upgrade=op["op"] == "attach")
    raise Denied(f"{call} is not an API call the sandbox judge makes")


_Rule = frozenset[str] | re.Pattern[str] | None  # allowed values, a pattern, or anything (rewritten)
_CONTAINER_CALLS: dict[tuple[str, str], dict[str, _Rule]] = {
    ("POST", "attach"): {"stream": _FLAG, "stdin": _FLAG, "stdout": _FLAG, "stderr": _FLAG},
    ("POST", "start"): {},
    ("POST", "wait"): {"condition": frozenset({"removed", "next-exit", "not-running"})},
    ("DELETE", ""): {"force": _FLAG},
}


def _split(path: str) -> tuple[str, str]:
    """(version prefix, route) of a literal path; tricks the engine would normalise are refused."""
    if not _PATH.fullmatch(path):
        raise Denied(f"path {path[:80]!r} has characters the judge never sends (encoding, controls)")
    if any(segment in ("", ".", "..") for segment in path.split("/")[1:]):
        raise Denied(f"path {path[:80]!r} has an empty, '.' or '..' segment or a trailing slash")
    version = _VERSION.fullmatch(path)
    if version:
        if int(version[1]) < MIN_API:
            raise Denied(f"API version 1.{version[1]} is older than the proxy allows (1.{MIN_API})")
        return path[: -len(version[2])], version[2]
    if re.match(r"/v[0-9]", path) or path.lower().startswith("/v1."):
        raise Denied(f"path {path[:80]!r} has a malformed API version prefix")
    return "", path


def _params(query: str) -> dict[str, str]:
    if ";" in query or "#" in query:
        raise Denied("query string has ';' or '#'")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise Denied("query string is malformed") from None
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Denied("query string gives a parameter twice")
    return dict(pairs)


def _only(params: dict[str, str], allowed: dict[str, _Rule]) -> None:
    for key, value in params.items():
        if key not in allowed:
            raise Denied(f"query parameter {key!r} is not one the judge sends")
        rule = allowed[key]
        ok = (
            rule is None
            or (isinstance(rule, frozenset) and value in rule)
            or (isinstance(rule, re.Pattern) and rule.fullmatch(value) is not None)
        )
        if not ok:
            raise Denied(f"query parameter {key}={value[:40]!r} is not allowed")


def _plain(path: str, params: dict[str, str]) -> Decision:
    _only(params, {})
    return Decision(path=path)


def _filters(params: dict[str, str]) -> dict[str, list[str]]:
    """The `filters` parameter in either of the engine's forms, as {key: [values]}."""
    raw = params.get("filters")
    if not raw:
        return {}
    try:
        loaded = json.loads(raw)
    except ValueError:
        raise Denied("filters is not JSON") from None
    if not isinstance(loaded, dict):
        raise Denied("filters is not a JSON object")
    filters: dict[str, list[str]] = {}
    for key, values in loaded.items():
        if isinstance(values, dict):  # the map form {"value": true}
            values = list(values)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Denied(f"filter {key!r} is malformed")
        filters[str(key)] = values
    return filters


def _rewritten(params: dict[str, str], filters: dict[str, Any]) -> str:
    return urlencode(
        [*((k, v) for k, v in params.items() if k != "filters"), ("filters", json.dumps(filters))]
    )


def _with_label(params: dict[str, str], label_value: str) -> str:
    """A container listing restricted to the proxy's own containers, whatever filters were asked for
    (the engine ANDs label filters)."""
    filters = _filters(params)
    filters["label"] = [*filters.get("label", []), f"{PROXY_LABEL}={label_value}"]
    return _rewritten(params, filters)


_EVENT_FILTERS = frozenset({"container", "event", "label", "type"})


def _events(params: dict[str, str], label_value: str) -> str:
    """Events of the proxy's own containers only: container events carrying its label."""
    filters = _filters(params)
    extra = set(filters) - _EVENT_FILTERS
    if extra:
        raise Denied(f"event filter {sorted(extra)[0]!r} is not one the judge sends")
    if set(filters.get("type", [])) - {"container"}:
        raise Denied("only container events are allowed")
    filters["type"] = ["container"]
    filters["label"] = [*filters.get("label", []), f"{PROXY_LABEL}={label_value}"]
    return _rewritten(params, filters)


def owned(labels: object, label_value: str) -> bool:
    """Whether a container's labels (from inspect) say this proxy (this stack) created it."""
    return isinstance(labels, dict) and labels.get(PROXY_LABEL) == label_value
