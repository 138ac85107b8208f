"""A filtering proxy in front of the Docker socket, so the worker never holds the host's full socket.

    python -m app.deploy.docker_proxy --listen 0.0.0.0:2375 --upstream /var/run/docker.sock

Each client connection carries one request (the proxy asks the engine to close after answering,
so a second request on the same connection can never bypass the check). The request head and body
are read completely, checked by proxy_policy.decide(), calls naming a container or exec are checked
for the proxy's label by asking the engine, and only then is the request forwarded. Upgraded
connections (exec/attach streams) are then spliced both ways. On SIGTERM the proxy removes every
container it created, so stopping the stack leaves no sandbox behind even if a worker was killed.

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

from app.deploy.proxy_policy import PROXY_LABEL, Decision, Denied, Policy, decide, owned

log = logging.getLogger("rfx.docker-proxy")

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length"}
)


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


async def read_request(reader: asyncio.StreamReader) -> Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large") from None
    except asyncio.IncompleteReadError:
        raise BadRequest("connection closed mid-request") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise BadRequest("malformed request line") from None
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    request = Request(method, target, version, headers, b"")
    if request.header("transfer-encoding").lower() == "chunked":
        request.body = await _read_chunked(reader)
    else:
        length = int(request.header("content-length") or 0)
        if length > MAX_BODY:
            raise BadRequest("request body too large")
        request.body = await reader.readexactly(length) if length else b""
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


def render(request: Request, decision: Decision) -> bytes:
    target = request.path + (
        f"?{decision.query}" if decision.query is not None else (f"?{request.query}" if request.query else "")
    )
    body = decision.body if decision.body is not None else request.body
    lines = [f"{request.method} {target} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in request.headers if k.lower() not in HOP_HEADERS]
    lines.append("Connection: Upgrade" if request.upgrade else "Connection: close")
    if body or request.method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_response(status: int, message: str) -> bytes:
    body = json.dumps({"message": f"rfx docker proxy: {message}"}).encode()
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}.get(status, "Error")
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

    async def _container_owned(self, container_id: str) -> bool:
        """True for the proxy's own containers, and for names that do not exist (the engine says 404)."""
        status, info = await self._engine_json("GET", f"/containers/{quote(container_id, safe='')}/json")
        if status == 404:
            return True
        return (
            status == 200
            and isinstance(info, dict)
            and owned((info.get("Config") or {}).get("Labels"), self.policy.label_value)
        )

    async def _check_ownership(self, decision: Decision) -> None:
        container_id = decision.container_id
        if decision.exec_id is not None:
            status, info = await self._engine_json("GET", f"/exec/{quote(decision.exec_id, safe='')}/json")
            if status != 200 or not isinstance(info, dict):
                raise Denied(f"no exec instance {decision.exec_id}")
            container_id = str(info.get("ContainerID") or "")
        if container_id is not None and not await self._container_owned(container_id):
            raise Denied(f"container {container_id} was not created through this proxy")

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._live.add(task)
            task.add_done_callback(self._live.discard)
        try:
            try:
                request = await read_request(client_reader)
                decision = decide(self.policy, request.method, request.path, request.query, request.body)
                await self._check_ownership(decision)
            except BadRequest as exc:
                client_writer.write(error_response(400, str(exc)))
                return
            except Denied as exc:
                log.warning(
                    "denied %s %s: %s", getattr(request, "method", "?"), getattr(request, "path", "?"), exc
                )
                client_writer.write(error_response(403, str(exc)))
                return
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
            except OSError as exc:
                client_writer.write(error_response(502, f"engine unreachable: {exc}"))
                return
            up_writer.write(render(request, decision))
            await up_writer.drain()
            pipes = [asyncio.create_task(_pipe(up_reader, client_writer))]
            if request.upgrade:  # exec/attach stream: the client's further bytes are the process's stdin
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host, _, port = args.listen.rpartition(":")
    policy = Policy(allowed_image_prefixes=tuple(args.image_prefix or ("rfx-sandbox:",)))
    asyncio.run(serve(host or "127.0.0.1", int(port), DockerProxy(args.upstream, policy)))


if __name__ == "__main__":
    main()
