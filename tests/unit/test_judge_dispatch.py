"""OldestFirst and recycle_due: the pool's hand-out order and recycle timing (pure, no containers)."""

from __future__ import annotations

import asyncio

import pytest

from app.judge.dispatch import OldestFirst
from app.judge.docker_judge import recycle_due


async def _take(pool: OldestFirst[str], priority: float | None, got: list[tuple[float | None, str]]) -> None:
    got.append((priority, await pool.get(priority)))


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_free_item_is_handed_out_at_once() -> None:
    pool: OldestFirst[str] = OldestFirst()
    pool.put("a")
    assert await asyncio.wait_for(pool.get(), 1) == "a"


async def test_waiters_are_served_oldest_episode_first_then_by_arrival() -> None:
    pool: OldestFirst[str] = OldestFirst()
    got: list[tuple[float | None, str]] = []
    tasks = [asyncio.create_task(_take(pool, p, got)) for p in (30.0, 10.0, None, 20.0, 10.0)]
    await _settle()
    assert pool.waiting() == 5
    for item in "abcde":
        pool.put(item)
        await _settle()
    await asyncio.gather(*tasks)
    # None is "as of arrival" (now), later than any episode accepted at 10-30 s after the epoch
    assert [p for p, _ in got] == [10.0, 10.0, 20.0, 30.0, None]
    assert [item for _, item in got] == list("abcde")


async def test_a_cancelled_waiter_is_skipped() -> None:
    pool: OldestFirst[str] = OldestFirst()
    got: list[tuple[float | None, str]] = []
    first = asyncio.create_task(_take(pool, 1.0, got))
    second = asyncio.create_task(_take(pool, 2.0, got))
    await _settle()
    first.cancel()
    await _settle()
    pool.put("a")
    await asyncio.wait_for(second, 1)
    assert got == [(2.0, "a")]


async def test_an_item_handed_to_a_waiter_cancelled_meanwhile_goes_to_the_next() -> None:
    pool: OldestFirst[str] = OldestFirst()
    got: list[tuple[float | None, str]] = []
    first = asyncio.create_task(_take(pool, 1.0, got))
    second = asyncio.create_task(_take(pool, 2.0, got))
    await _settle()
    pool.put("a")  # first's future now holds "a" ...
    first.cancel()  # ... and first is cancelled before it resumes
    await asyncio.wait_for(second, 1)
    assert first.cancelled() and got == [(2.0, "a")]
    pool.put("b")
    assert await asyncio.wait_for(pool.get(), 1) == "b"  # nothing lost, nothing doubled


@pytest.mark.parametrize(
    ("runs", "waiting", "due"),
    [
        (199, 0, False),  # not yet
        (200, 0, True),  # the count is reached at an idle moment
        (200, 3, False),  # judgements wait: the start (~0.45 CPU-s) would land in their burst
        (399, 1, False),
        (400, 1, True),  # twice the count: recycled whatever the load
    ],
)
def test_a_recycle_waits_for_a_moment_nobody_waits_up_to_twice_the_count(
    runs: int, waiting: int, due: bool
) -> None:
    assert recycle_due(runs, 200, waiting) is due
