"""A small incremental parser for text/event-stream (the WHATWG rules the client needs).

Pure and I/O-free so the sync and async clients share it: feed it decoded lines, it returns each
complete message at the blank line that ends it. Comment lines (`: ping`) are keep-alives and are
dropped; `retry:` updates the reconnection delay the server asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    event: str
    data: str
    id: str | None


@dataclass
class SSEParser:
    retry_ms: int | None = None
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> Message | None:
        """Consume one line (without its line break); return a message when `line` completes one."""
        if line == "":
            if not self._data and not self._event:
                self._id = None
                return None
            message = Message(event=self._event or "message", data="\n".join(self._data), id=self._id)
            self._event, self._data, self._id = "", [], None
            return message
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None
