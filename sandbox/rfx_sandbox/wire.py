"""Framing and the plain-data value codec shared by the runner, the harness and the candidate.

Frames are a 4-byte big-endian length followed by that many bytes (JSON unless said otherwise).
Values crossing from the candidate to the harness are *plain data only*: an object with a custom
`__eq__` (the classic way to fake `assert f(x) == y`) cannot be encoded, so it cannot reach the
process that compares. Every JSON object on the wire is a tag, so user dicts are never confused
with tags, and decoding builds only builtin types.
"""

from __future__ import annotations

import base64
import json
import os
import select
import struct

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
_SAFE_INT = 2**53


class WireError(Exception):
    """The peer broke the protocol (bad length, bad JSON, unknown tag)."""


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_frame(fd: int, obj: object) -> None:
    write_all(fd, frame(json.dumps(obj, separators=(",", ":")).encode()))


def read_exact(fd: int, size: int) -> bytes | None:
    """Read exactly `size` bytes from a blocking fd; None on EOF before the first byte."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if not chunks:
                return None
            raise WireError("stream ended inside a frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame_bytes(fd: int, limit: int = MAX_FRAME) -> bytes | None:
    head = read_exact(fd, HEADER.size)
    if head is None:
        return None
    (size,) = HEADER.unpack(head)
    if size > limit:
        raise WireError(f"frame of {size} bytes exceeds the limit of {limit}")
    data = read_exact(fd, size) if size else b""
    if data is None:
        raise WireError("stream ended inside a frame")
    return data


def read_frame(fd: int, limit: int = MAX_FRAME) -> object:
    data = read_frame_bytes(fd, limit)
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"bad JSON frame: {exc}") from None


def readable(fds: list[int], timeout_s: float) -> list[int]:
    """The fds ready to read (or at EOF/error). poll(), not select(): gVisor refuses select()."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN | select.POLLPRI)
    events = poller.poll(max(0, int(timeout_s * 1000 + 0.999)))
    return [fd for fd, _ in events]


# ---- values -----------------------------------------------------------------------------------

def encode(value: object) -> object:
    """Turn a value into JSON-able tagged data; raise TypeError for anything but plain data."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -_SAFE_INT < value < _SAFE_INT else {"i": format(value, "x")}  # type: ignore[operator]
    if kind is float:
        return value
    if kind is list:
        return [encode(v) for v in value]  # type: ignore[attr-defined]
    if kind is tuple:
        return {"t": [encode(v) for v in value]}  # type: ignore[attr-defined]
    if kind is dict:
        return {"d": [[encode(k), encode(v)] for k, v in value.items()]}  # type: ignore[attr-defined]
    if kind is set:
        return {"s": [encode(v) for v in value]}  # type: ignore[attr-defined]
    if kind is frozenset:
        return {"f": [encode(v) for v in value]}  # type: ignore[attr-defined]
    if kind is bytes:
        return {"b": base64.b64encode(value).decode()}  # type: ignore[arg-type]
    if kind is complex:
        return {"c": [value.real, value.imag]}  # type: ignore[attr-defined]
    # Subclasses of plain types are converted to the plain type (their methods do not cross).
    for base in (bool, int, float, str, bytes, complex):
        if isinstance(value, base):
            return encode(base(value))  # type: ignore[call-overload]
    for base in (list, tuple, set, frozenset):
        if isinstance(value, base):
            return encode(base(value))  # type: ignore[call-overload]
    if isinstance(value, dict):
        return encode(dict(value))
    raise TypeError(f"unsupported value of type {kind.__name__} (only plain data can be compared)")


def _tag(obj: dict[str, object]) -> object:
    if len(obj) != 1:
        raise WireError("bad tagged value")
    (tag, data), = obj.items()
    if tag == "t" and type(data) is list:
        return tuple(data)
    if tag == "d" and type(data) is list:
        result: dict[object, object] = {}
        for pair in data:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("bad dict item")
            result[pair[0]] = pair[1]
        return result
    if tag == "s" and type(data) is list:
        return set(data)
    if tag == "f" and type(data) is list:
        return frozenset(data)
    if tag == "i" and type(data) is str:
        return int(data, 16)
    if tag == "b" and type(data) is str:
        return base64.b64decode(data, validate=True)
    if tag == "c" and type(data) is list and len(data) == 2:
        return complex(float(data[0]), float(data[1]))
    raise WireError(f"unknown tag {tag!r}")


def decode(data: bytes | str) -> object:
    """Parse tagged JSON into builtin values only; any malformation is a WireError."""
    try:
        return json.loads(data, object_hook=_tag)
    except WireError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        raise WireError(f"bad value: {exc}") from None


def dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
