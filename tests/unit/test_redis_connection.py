"""The service's Redis client: what each new connection costs before it sends a command."""

from __future__ import annotations

import pytest
import redis.utils

from app.queue.connection import redis_client
from app.settings import Settings


def test_a_new_connection_does_not_read_the_package_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    # redis-py left to itself looks its own version up (importlib.metadata, an email parse) for every
    # connection it makes: ~1 ms of CPU each, paid a hundred times over when a burst grows the pool
    client = redis_client(Settings(redis_url="redis://127.0.0.1:1/0"))

    def looked_up() -> str:
        raise AssertionError("redis-py's version was looked up for a new connection")

    monkeypatch.setattr(redis.utils, "get_lib_version", looked_up)
    first = client.connection_pool.make_connection()  # builds the connection object, no I/O yet
    second = client.connection_pool.make_connection()
    assert first.driver_info is second.driver_info is not None  # one lookup, shared by the process
