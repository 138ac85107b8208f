"""The worker: claims jobs from the stream, runs episodes concurrently, survives crashes around it.

Delivery is at-least-once; exactly-once *outcomes* come from the store: a claim writes a fresh
fencing token into the episode, every step is refused unless the writer still holds it, and the
terminal transition is refused once terminal. So when a worker dies (SIGKILL), its jobs' leases
lapse, another worker reclaims them (XAUTOCLAIM) and resumes each episode from its last stored
snapshot; when a slow worker comes back after losing its lease, its writes bounce (LeaseLost).
SIGTERM stops claiming, lets running episodes finish within a grace period, and hands back the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import redis.asyncio as aredis
from redis.exceptions import RedisError

from app.errors import BackgroundTaskDied, Unavailable
from app.memory.episodes import EpisodeStore, LeaseLost
from app.memory.keys import Keys
from app.queue.leases import Claim, EpisodeLeases
from app.queue.stream import Job, JobStream
from app.reflexion.models import Episode, EventType, utcnow
from app.reflexion.ports import EventSink
from app.settings import Settings

log = logging.getLogger("rfx.worker")

Runner = Callable[[Episode, EventSink], Awaitable[Episode]]
StopReason = Literal["", "user", "handback", "lease"]
PRUNE_IDLE_MS = 3600 * 1000  # a consumer silent this long with nothing pending belongs to a dead worker


class _Closable(Protocol):
    """What closing a pub/sub needs, typed here: redis-py's own annotation of `aclose` varies by release."""

    def aclose(self) -> Awaitable[object]: ...


async def _close_quietly(resource: _Closable) -> None:
    """Close on the way out without letting a dead connection's error replace the one in flight."""
    with contextlib.suppress(RedisError, OSError):
        await resource.aclose()


@dataclass
class Running:
    job: Job
    token: str
    task: asyncio.Task[None] | None = None
    reason: StopReason = ""
    last: Episode | None = None
    finished: bool = False  # the loop's episode.finished went through the store


class StoreSink:
    """The loop's EventSink: persist the snapshot and append the event, as the lease holder only."""

    def __init__(self, leases: EpisodeLeases, running: Running) -> None:
        self.leases = leases
        self.running = running

    async def emit(self, episode: Episode, type: EventType, data: dict[str, object]) -> None:
        if self.running.reason in ("handback", "lease"):
            raise LeaseLost(episode.id)  # the episode is someone else's now: write nothing
        self.running.last = episode
        await self.leases.save(episode, self.running.token, type, data)
        if type == "episode.finished":
            self.running.finished = True


class Worker:
    def __init__(
        self,
        client: aredis.Redis,
        settings: Settings,
        runner: Runner,
        *,
        concurrency: int | None = None,
        consumer: str | None = None,
    ) -> None:
        keys = Keys(settings.key_prefix)
        self.redis = client
        self.keys = keys
        self.settings = settings
        self.store = EpisodeStore(client, keys, ttl_s=settings.episode_ttl_s)
        self.leases = EpisodeLeases(self.store)
        self.jobs = JobStream(client, keys, consumer)
        self.runner = runner
        self.concurrency = concurrency or settings.worker_concurrency
        self.lease_ms = int(settings.lease_s * 1000)
        self.running: dict[str, Running] = {}
        self._wake = asyncio.Event()
        self._halted = False

    @property
    def consumer(self) -> str:
        return self.jobs.consumer

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop` is set; then drain (grace period) and hand back the rest.

        The heartbeat and the cancel listener must live as long as the worker: if one ends, the error
        is logged with its traceback, every running episode is handed back, and BackgroundTaskDied is
        raised so the process exits non-zero (its supervisor restarts it) instead of running on
        with leases unrenewed or cancels unheard.
        """
        await self._until_redis(self.jobs.ensure_group)
        with contextlib.suppress(RedisError, OSError):
            await self.jobs.prune_consumers(idle_ms=PRUNE_IDLE_MS)
        background = [
            asyncio.create_task(self._heartbeats(), name="heartbeat"),
            asyncio.create_task(self._cancel_listener(), name="cancel listener"),
        ]
        log.info(
            "worker %s: concurrency %d, lease %.1fs", self.consumer, self.concurrency, self.settings.lease_s
        )
        claiming = asyncio.create_task(self._claim_loop(stop), name="claim loop")
        try:
            await asyncio.wait([claiming, *background], return_when=asyncio.FIRST_COMPLETED)
            if claiming.done():
                claiming.result()  # the claim loop ends only when stopped; an error of its own surfaces
                draining = asyncio.create_task(self._drain())
                await asyncio.wait([draining, *background], return_when=asyncio.FIRST_COMPLETED)
                if draining.done():
                    draining.result()
            self._raise_if_dead(background)
        except BaseException:
            await self._hand_back_all()
            raise
        finally:
            # the loop also checks this flag: a cancel that lands while redis-py sets up a connection
            # can be swallowed there, and the loop would then claim on until `stop`
            self._halted = True
            claiming.cancel()
            for task in background:
                task.cancel()
            await asyncio.gather(claiming, *background, return_exceptions=True)
        log.info("worker %s stopped", self.consumer)

    def _raise_if_dead(self, background: list[asyncio.Task[None]]) -> None:
        for task in background:
            if not task.done():
                continue
            exc = None if task.cancelled() else task.exception()
            detail = f"{type(exc).__name__}: {exc}" if exc is not None else "it returned"
            log.error(
                "worker %s: its %s died (%s); handing back its episodes and exiting",
                self.consumer,
                task.get_name(),
                detail,
                exc_info=exc,
            )
            raise BackgroundTaskDied(f"worker {task.get_name()}", detail) from exc

    async def _hand_back_all(self) -> None:
        left = [r for r in self.running.values() if r.task is not None and not r.task.done()]
        for r in left:
            if not r.reason:
                r.reason = "handback"
            assert r.task is not None
            r.task.cancel()
        if left:
            await asyncio.gather(*(r.task for r in left if r.task is not None), return_exceptions=True)
            log.info("handed back %d episode(s)", len(left))

    async def _until_redis(self, op: Callable[[], Awaitable[None]]) -> None:
        delay = 0.1
        while True:
            try:
                await op()
                return
            except (RedisError, OSError) as exc:
                log.warning("redis unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # ---- claiming -------------------------------------------------------------------------
    async def _claim_loop(self, stop: asyncio.Event) -> None:
        reclaim_every = max(0.5, self.settings.lease_s / 2)
        last_reclaim = 0.0
        delay = 0.1
        while not stop.is_set() and not self._halted:
            free = self.concurrency - len(self.running)
            if free <= 0:
                self._wake.clear()
                waiter = asyncio.create_task(self._wake.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, stopper}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                continue
            try:
                jobs: list[Job] = []
                if time.monotonic() - last_reclaim >= reclaim_every:
                    last_reclaim = time.monotonic()
                    mine = await self.jobs.own_pending(len(self.running) + free)
                    jobs = [j for j in mine if j.episode_id not in self.running][:free]
                    if jobs:
                        log.info("found %d job(s) delivered here but never started", len(jobs))
                    if free > len(jobs):
                        taken = await self.jobs.reclaim(free - len(jobs), self.lease_ms)
                        if taken:
                            log.info("reclaimed %d job(s) whose lease lapsed", len(taken))
                        jobs += taken
                if not jobs:
                    jobs = await self.jobs.read(free, block_ms=500)
                delay = 0.1
            except (RedisError, OSError) as exc:
                log.warning("redis unavailable while claiming (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            for job in jobs:
                self._start(job)

    def _start(self, job: Job) -> None:
        if job.episode_id in self.running:
            return  # our own entry came back to us (e.g. after a Redis outage): already running
        running = Running(job, f"{self.consumer}:{uuid.uuid4().hex[:8]}")
        self.running[job.episode_id] = running
        running.task = asyncio.create_task(self._run_job(running), name=f"episode {job.episode_id}")

        def done(task: asyncio.Task[None]) -> None:
            if self.running.get(job.episode_id) is running:
                del self.running[job.episode_id]
            self._wake.set()
            exc = None if task.cancelled() else task.exception()
            if exc is not None:  # e.g. Redis gone while settling: the job stays pending, rescanned
                why = "it stays pending and is retried"
                log.error("episode %s: its job failed (%s); %s", job.episode_id, exc, why, exc_info=exc)

        running.task.add_done_callback(done)

    # ---- one job --------------------------------------------------------------------------
    async def _run_job(self, r: Running) -> None:
        try:
            await self._claim_and_run(r)
        except LeaseLost:
            if r.reason == "handback":
                await self._hand_back(r)
            else:
                log.warning("episode %s: lease lost, another worker owns it now", r.job.episode_id)
        except asyncio.CancelledError:
            if r.reason == "user":
                await self._settle(r, "cancelled", None)
            elif r.reason == "handback":
                await self._hand_back(r)
            elif r.reason != "lease":
                raise
        except (RedisError, OSError, Unavailable) as exc:
            # Redis (or memory on it) failed past the client's retries: give the job back for a retry
            # now if Redis answers again, else its lease lapses and it is reclaimed later.
            log.warning("episode %s: redis error (%s); handing it back", r.job.episode_id, exc)
            with contextlib.suppress(RedisError, OSError):
                await self._hand_back(r)
        except Exception as exc:
            log.exception("episode %s: unexpected error", r.job.episode_id)
            detail = f"internal error in the worker: {type(exc).__name__}: {exc}"
            await self._settle(r, "failed", detail[:500])

    async def _claim(self, r: Running) -> Claim:
        """Claim, and learn the claim's outcome even if this task is cancelled while its reply is in
        flight: the script may already have run on Redis (we own the episode then), and settling a
        cancel needs the record it returns. The cancellation is re-raised once the reply is in."""
        claiming = asyncio.ensure_future(self.leases.claim(r.job.episode_id, r.token))
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # its own failure is handled as if never claimed
                claim = await claiming
                if claim.outcome == "claimed":
                    r.last = claim.episode
            raise

    async def _claim_and_run(self, r: Running) -> None:
        claim = await self._claim(r)
        if claim.outcome != "claimed" or claim.episode is None:
            await self.jobs.ack(r.job)  # deleted, expired, or finished before a crash: nothing to do
            return
        r.last = claim.episode
        if claim.unreadable:
            log.error("episode %s: stored record unreadable (%s)", r.job.episode_id, claim.unreadable)
            await self._settle(r, "failed", claim.episode.error)
            return
        if claim.claims > self.settings.max_deliveries:
            detail = f"gave up after {claim.claims - 1} deliveries: workers kept dying on this episode"
            await self._settle(r, "failed", detail)
            return
        if claim.cancel_requested:
            await self._settle(r, "cancelled", None)
            return
        if claim.claims > 1:
            log.info(
                "episode %s: resuming (delivery %d, %d attempt(s) stored)",
                r.job.episode_id,
                claim.claims,
                len(claim.episode.attempts),
            )
        result = await self.runner(claim.episode, StoreSink(self.leases, r))
        if not r.finished:  # a runner that returned without its episode.finished: end it here
            await self.store.finish(result, token=r.token, mode="owner")
        await self.jobs.ack(r.job)

    async def _settle(self, r: Running, status: Literal["cancelled", "failed"], error: str | None) -> None:
        """Finish the episode ourselves (cancel before/after the loop, give-up, worker bug) and ack.

        The job is acknowledged only once the episode is terminal: without a record (the claim never
        came back) it is handed back instead, and the next claim settles it (it sees the cancel flag).
        """
        if r.last is None:
            log.warning("episode %s: interrupted before its claim came back: handed back", r.job.episode_id)
            await self._hand_back(r)
            return
        stop = "cancelled" if status == "cancelled" else r.last.stop_reason
        final = r.last.model_copy(
            update={
                "status": status,
                "stop_reason": stop,
                "finished_at": utcnow(),
                "error": error or r.last.error,
            }
        )
        try:
            await self.store.finish(final, token=r.token, mode="owner")
        except LeaseLost:
            return
        await self.jobs.ack(r.job)

    async def _hand_back(self, r: Running) -> None:
        await self.leases.release(r.job.episode_id, r.token)
        await self.jobs.hand_back(r.job, self.lease_ms)
        log.info("episode %s handed back", r.job.episode_id)

    # ---- background -----------------------------------------------------------------------
    async def _heartbeats(self) -> None:
        """Renew leases; stop episodes whose lease was taken or whose cancel flag is set.

        Redis errors are ridden out for `redis_give_up_s`; past that the heartbeat raises: every
        lease it keeps has lapsed long ago, and the worker should stop for its supervisor to see."""
        failing_since: float | None = None
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            try:
                for r in list(self.running.values()):
                    if r.reason or r.task is None:
                        continue
                    if not await self.jobs.renew(r.job):
                        r.reason = "lease"
                        r.task.cancel()
                    elif await self.store.cancel_requested(r.job.episode_id):
                        r.reason = "user"
                        r.task.cancel()
                failing_since = None
            except (RedisError, OSError) as exc:
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > self.settings.redis_give_up_s:
                    raise
                log.warning("heartbeat failed (%s)", exc)

    async def _cancel_listener(self) -> None:
        """Cancel requests arrive by pub/sub at once; the heartbeat's flag check covers missed ones.

        A lost channel is resubscribed; one that cannot be for `redis_give_up_s` ends the listener."""
        failing_since: float | None = None
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self.keys.cancel_channel())
                failing_since = None
                try:
                    async for message in pubsub.listen():
                        data = message.get("data")
                        episode_id = data.decode() if isinstance(data, bytes) else str(data)
                        r = self.running.get(episode_id)
                        if r is not None and not r.reason and r.task is not None:
                            r.reason = "user"
                            r.task.cancel()
                finally:
                    await _close_quietly(pubsub)
            except (RedisError, OSError) as exc:
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > self.settings.redis_give_up_s:
                    raise
                log.warning("cancel channel lost (%s); resubscribing", exc)
                await asyncio.sleep(0.5)

    async def _drain(self) -> None:
        tasks = [r.task for r in self.running.values() if r.task is not None]
        if tasks:
            log.info(
                "stopping: waiting up to %.0fs for %d running episode(s)",
                self.settings.worker_grace_s,
                len(tasks),
            )
            await asyncio.wait(tasks, timeout=self.settings.worker_grace_s)
        await self._hand_back_all()
