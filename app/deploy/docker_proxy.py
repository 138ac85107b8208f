"""A filtering proxy in front of the Docker socket, so the worker never holds the host's full socket.

    python -m app.deploy.docker_proxy --listen 0.0.0.0:2375 --upstream /var/run/docker.sock

Each client connection carries one request (the proxy asks the engine to close after answering,
so a second request on the same connection can never bypass the check). The request head and body
are read completely, checked by proxy_policy.decide(); a call naming a container is checked for the
proxy's label by asking the engine and forwarded by the container's id (so a name reused meanwhile
cannot redirect it), a missing container is answered 404 here, and a create with an empty User has
its image's user checked. Only the headers the judge's clients need are forwarded. Only `attach` may
upgrade, and the client's further bytes reach the engine only once the engine has answered 101 (a
refused upgrade would otherwise leave the engine reading a second, unchecked request). On SIGTERM
the proxy removes every container it created, so stopping the stack leaves no sandbox behind even if
a worker was killed.

Standard library only (asyncio), so it runs in any image with python3.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import socket
from dataclasses import dataclass
from urllib.parse import quote

from app.deploy.create_policy import non_root_user
from app.deploy.proxy_policy import CONTAINER, PROXY_LABEL, Decision, Denied, Policy, decide, owned
from app.sandbox_defaults import SANDBOX_BASE_IMAGE

log = logging.getLogger("rfx.docker-proxy")

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
FORWARDED_HEADERS = frozenset({"host", "user-agent", "content-type", "accept"})
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name), "")

    @property
    def upgrade(self) -> bool:
        return "upgrade" in self.header("connection").lower()


class BadRequest(Exception):
    pass


class NotFound(Exception):
    """The named container does not exist (answered 404 by the proxy, never forwarded)."""


async def read_request(reader: asyncio.StreamReader) -> Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large") from None
    except asyncio.IncompleteReadError:
        raise BadRequest("connection closed mid-request") from None
    lines = head.decode("latin-1")[:-4].split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise BadRequest("malformed request line") from None
    if not method or set(method) - _TOKEN or version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest("malformed request line")
    if any(ord(c) < 33 or ord(c) == 127 for c in target):
        raise BadRequest("control characters in the request target")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        # a bare CR or LF, or any control character, could split into a header of the engine's own
        if not colon or not name or set(name) - _TOKEN or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise BadRequest("malformed header line")
        headers.append((name, value.strip()))
    request = Request(method, target, version, headers, b"")
    encoding = request.header("transfer-encoding").lower()
    try:
        if encoding == "chunked":
            request.body = await _read_chunked(reader)
        elif encoding:
            raise BadRequest(f"transfer-encoding {encoding!r} is not supported")
        else:
            length = int(request.header("content-length") or 0)
            if not 0 <= length <= MAX_BODY:
                raise BadRequest("request body too large")
            request.body = await reader.readexactly(length) if length else b""
    except ValueError:
        raise BadRequest("malformed content-length or chunk size") from None
    return request


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readline()).strip():  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(body) > MAX_BODY:
            raise BadRequest("request body too large")


def render(request: Request, decision: Decision, container_id: str | None = None) -> bytes:
    """The request as the engine gets it: the decided path (the container by its real id), query and
    body, the few headers the judge's clients need, and the connection mode the proxy chose."""
    path = decision.path.replace(CONTAINER, container_id) if container_id else decision.path
    query = decision.query if decision.query is not None else request.query
    body = decision.body if decision.body is not None else request.body
    lines = [f"{request.method} {path}{'?' + query if query else ''} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in request.headers if k.lower() in FORWARDED_HEADERS]
    if decision.upgrade and request.upgrade:
        lines += ["Connection: Upgrade", "Upgrade: tcp"]
    else:
        lines.append("Connection: close")
    if body or request.method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_response(status: int, message: str) -> bytes:
    """A JSON error the docker CLI prints; the message is one line."""
    line = " ".join(message.split())
    body = json.dumps({"message": f"rfx docker proxy: {line}"}).encode()
    reason = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 502: "Bad Gateway"}.get(status, "Error")
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n"
    ).encode() + body


class DockerProxy:
    def __init__(self, upstream: str, policy: Policy) -> None:
        self.upstream = upstream
        self.policy = policy
        self._live: set[asyncio.Task[None]] = set()  # strong references: asyncio keeps only weak ones

    async def _engine_json(self, method: str, path: str) -> tuple[int, object]:
        """One small request of the proxy's own to the engine (ownership checks, cleanup)."""
        reader, writer = await asyncio.open_unix_connection(self.upstream)
        try:
            writer.write(f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if b"chunked" in head.lower():
            body = _dechunk(body)
        try:
            return status, json.loads(body or b"null")
        except ValueError:
            return status, None

    async def owned_id(self, name: str) -> str:
        """The id of the proxy's own container `name`; NotFound if there is none, Denied if it is
        someone else's."""
        status, info = await self._engine_json("GET", f"/containers/{quote(name, safe='')}/json")
        if status == 404:
            raise NotFound(f"No such container: {name}")
        if status != 200 or not isinstance(info, dict):
            raise Denied(f"container {name} could not be inspected (engine answered {status})")
        if not owned((info.get("Config") or {}).get("Labels"), self.policy.label_value):
            raise Denied(f"container {name} was not created through this proxy")
        return str(info.get("Id") or "")

    async def check_image_user(self, image: str) -> None:
        """An empty User runs as the image's own: allowed only when that is a numeric non-root pair."""
        status, info = await self._engine_json("GET", f"/images/{quote(image, safe=':/@')}/json")
        user = (info.get("Config") or {}).get("User") if status == 200 and isinstance(info, dict) else None
        if not non_root_user(user):
            raise Denied(
                f"User is empty and image {image}'s own user {user!r} is not a numeric non-root uid:gid"
            )

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._live.add(task)
            task.add_done_callback(self._live.discard)
        try:
            request: Request | None = None
            try:
                request = await read_request(client_reader)
                decision = decide(self.policy, request.method, request.path, request.query, request.body)
                container_id = await self.owned_id(decision.container_id) if decision.container_id else None
                if decision.image_user is not None:
                    await self.check_image_user(decision.image_user)
            except BadRequest as exc:
                client_writer.write(error_response(400, str(exc)))
                return
            except NotFound as exc:
                client_writer.write(error_response(404, str(exc)))
                return
            except Denied as exc:
                where = f"{request.method} {request.target[:200]}" if request else "?"
                log.warning("denied %s: %s", where, exc)
                client_writer.write(error_response(403, str(exc)))
                return
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(self.upstream, limit=MAX_HEAD)
            except OSError as exc:
                client_writer.write(error_response(502, f"engine unreachable: {exc}"))
                return
            up_writer.write(render(request, decision, container_id))
            await up_writer.drain()
            if decision.upgrade and request.upgrade and not await _upgraded(up_reader, client_writer):
                up_writer.close()
                return
            pipes = [asyncio.create_task(_pipe(up_reader, client_writer))]
            if decision.upgrade and request.upgrade:  # the attach stream: further bytes are stdin
                pipes.append(asyncio.create_task(_pipe(client_reader, up_writer)))
            await pipes[0]
            for stdin_pipe in pipes[1:]:
                stdin_pipe.cancel()
            up_writer.close()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                await client_writer.drain()
            client_writer.close()

    async def identify(self) -> None:
        """Label sandboxes with this stack's compose project (read from the proxy's own container),
        so that stopping one stack never sweeps another stack's sandboxes on the same engine."""
        status, info = await self._engine_json(
            "GET", f"/containers/{quote(socket.gethostname(), safe='')}/json"
        )
        if status == 200 and isinstance(info, dict):
            labels = (info.get("Config") or {}).get("Labels") or {}
            project = labels.get(COMPOSE_PROJECT_LABEL) if isinstance(labels, dict) else None
            if project:
                self.policy = dataclasses.replace(self.policy, label_value=str(project))

    async def sweep(self) -> int:
        """Remove every container this proxy (this stack) created: at start (a crash's leftovers), at stop."""
        query = quote(json.dumps({"label": [f"{PROXY_LABEL}={self.policy.label_value}"]}))
        status, listing = await self._engine_json("GET", f"/containers/json?all=1&filters={query}")
        removed = 0
        if status == 200 and isinstance(listing, list):
            for item in listing:
                status, _ = await self._engine_json("DELETE", f"/containers/{item['Id']}?force=1&v=1")
                removed += status in (200, 204)
        return removed


async def _upgraded(up_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> bool:
    """Relay the engine's answer head to an upgrade; True if the engine switched protocols (101).

    Anything else is relayed with its body and the connection ends: the engine keeps a refused
    upgrade's connection open for another request, which must never come from the client."""
    try:
        head = await up_reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        client_writer.write(error_response(502, "the engine's answer to an attach was cut short"))
        return False
    if head.split(b" ", 2)[1:2] == [b"101"]:
        client_writer.write(head)
        return True
    length = next(
        (
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        b"0",
    )
    body = await up_reader.readexactly(min(int(length or b"0"), MAX_HEAD)) if length.isdigit() else b""
    lines = [
        ln
        for ln in head.rstrip(b"\r\n").split(b"\r\n")
        if not ln.lower().startswith((b"connection:", b"content-length:", b"transfer-encoding:"))
    ]
    lines += [b"Connection: close", b"Content-Length: " + str(len(body)).encode()]
    client_writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    return False


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


async def serve(host: str, port: int, proxy: DockerProxy) -> None:
    await proxy.identify()
    leftovers = await proxy.sweep()
    server = await asyncio.start_server(proxy.handle, host, port, limit=MAX_HEAD)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "docker proxy on %s:%d -> %s, label %s=%s (removed %d leftover sandboxes)",
        host,
        port,
        proxy.upstream,
        PROXY_LABEL,
        proxy.policy.label_value,
        leftovers,
    )
    async with server:
        await stop.wait()
    removed = await proxy.sweep()
    log.info("stopped; removed %d sandbox container(s)", removed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:2375", help="HOST:PORT to listen on")
    parser.add_argument("--upstream", default="/var/run/docker.sock", help="the engine's unix socket")
    parser.add_argument(
        "--image-prefix",
        action="append",
        default=None,
        help="allowed image name prefix (repeatable; default rfx-sandbox:)",
    )
    parser.add_argument(
        "--base-image",
        action="append",
        default=None,
        help=f"the sandbox base image the judge may inspect (repeatable; default {SANDBOX_BASE_IMAGE})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host, _, port = args.listen.rpartition(":")
    policy = Policy(
        allowed_image_prefixes=tuple(args.image_prefix or ("rfx-sandbox:",)),
        inspectable_images=tuple(args.base_image or Policy.inspectable_images),
    )
    asyncio.run(serve(host or "127.0.0.1", int(port), DockerProxy(args.upstream, policy)))


if __name__ == "__main__":
    main()
