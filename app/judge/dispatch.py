"""Which waiting judgement gets the next free pooled container: the oldest episode's first.

When more judgements wait than the pool has containers (every episode of a burst calls the judge
at once), serving them in arrival order lets an episode that was late once be late again: it
arrives behind episodes that are on schedule, and its delays add up. Serving the judgement whose
episode was accepted first is the earliest-due-date rule (all episodes' steps take the same ideal
time, so the oldest episode has the earliest due date), which minimises the worst episode's delay
instead of spreading delays by arrival. A caller names its episode's age as an argument of the judge
port (`priority`: the episode's `created_at`, which the engine passes on every judgement); anything
else (`POST /v1/judge`, `rfx judge`) is served as of its arrival, so it never waits behind episodes
accepted after it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Generic, TypeVar

T = TypeVar("T")


class OldestFirst(Generic[T]):
    """A set of free items (pool slots) handed out to waiters by priority, then arrival."""

    def __init__(self) -> None:
        self._free: list[T] = []
        self._waiters: list[tuple[float, int, asyncio.Future[T]]] = []
        self._order = itertools.count()

    def put(self, item: T) -> None:
        """Give `item` to the most urgent live waiter, or keep it free."""
        while self._waiters:
            _, _, waiter = heapq.heappop(self._waiters)
            if not waiter.done():  # a cancelled waiter is skipped
                waiter.set_result(item)
                return
        self._free.append(item)

    async def get(self, priority: float | None = None) -> T:
        """An item; `priority` is seconds since the epoch (the episode's acceptance), None = now."""
        if self._free:  # nothing waits while an item is free: put() hands items to waiters first
            return self._free.pop()
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._waiters, (time.time() if priority is None else priority, next(self._order), waiter)
        )
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.put(waiter.result())  # handed an item just as the caller was cancelled: pass it on
            raise

    def waiting(self) -> int:
        return sum(not w.done() for _, _, w in self._waiters)
