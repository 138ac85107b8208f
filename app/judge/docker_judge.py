"""DockerJudge: the `Judge` port on hardened Docker containers, pooled (warm) or fresh per run.

Pooled mode keeps `workers` containers, each serving one judgement at a time; a container is
replaced at once on any sign of trouble (timeout, memory kill, a process the runner could not reap,
a dead container), and after `recycle_after` runs make-before-break: its successor starts in the
background while it keeps serving, so routine recycling never leaves a slot without a container
(a start takes far longer than a judgement, which would otherwise wait for it), and it starts
at a moment no judgement waits (see `recycle_due`). Calls beyond the pool size wait, and a freed container
goes to the oldest episode's judgement first (app/judge/dispatch.py). Infrastructure
failures come back as a `sandbox_error` verdict; only cancellation propagates, and it kills the
container that was running the cancelled submission.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine
from datetime import datetime
from types import TracebackType

from app.errors import SandboxError
from app.judge.config import JudgeConfig
from app.judge.container import (
    ContainerGone,
    RunResult,
    SandboxContainer,
    docker_cli,
    force_remove,
)
from app.judge.dispatch import OldestFirst
from app.judge.image import ensure_sandbox_image
from app.judge.reaper import INSTANCE_LABEL, JUDGE_LABEL, OWNER_LABEL, owner_token, reap_orphans
from app.judge.verdicts import sandbox_error, verdict_from_report
from app.reflexion.models import JudgeLimits, Submission, Verdict

CONTAINER_LIMIT_FIELDS = ("memory_mb", "pids", "tmpfs_mb", "cpus")


class _Slot:
    """One pool place: holds a container, the task starting its replacement, or both (a container
    past `recycle_after` serves until its successor is up)."""

    def __init__(self) -> None:
        self.container: SandboxContainer | None = None
        self.starting: asyncio.Task[SandboxContainer] | None = None


class DockerJudge:
    """Judge submissions in sandbox containers. Use `async with DockerJudge(config) as judge:`."""

    def __init__(self, config: JudgeConfig | None = None) -> None:
        self.config = config or JudgeConfig()
        self.id = uuid.uuid4().hex[:10]
        self.image: str | None = self.config.image
        self.reaped: list[str] = []
        self._labels = {
            JUDGE_LABEL: "1",
            OWNER_LABEL: owner_token(),
            INSTANCE_LABEL: self.id,
            "rfx.judge.mode": self.config.mode,
            **self.config.labels,
        }
        self._counter = 0
        self._started = False
        self._closed = False
        self._start_lock = asyncio.Lock()
        self._idle: OldestFirst[_Slot] = OldestFirst()
        self._slots: list[_Slot] = []
        self._fresh_gate = asyncio.Semaphore(self.config.workers)
        self._live: set[SandboxContainer] = set()
        self._background: set[asyncio.Task[object]] = set()
        self._closing: set[asyncio.Task[None]] = set()  # fresh containers on their way out

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Reap orphans, make sure the image exists, warm the pool. Raises SandboxError."""
        async with self._start_lock:
            if self._started:
                return
            if self._closed:
                raise SandboxError("this judge is closed")
            self.reaped = await reap_orphans(self.config.docker)
            if self.image is None:
                self.image = await asyncio.to_thread(ensure_sandbox_image, None, self.config.base_image)
            if self.config.mode == "pooled":
                self._slots = [_Slot() for _ in range(self.config.workers)]
                results = await self._start_pool()
                failures = [r for r in results if isinstance(r, BaseException)]
                for slot, result in zip(self._slots, results, strict=True):
                    if isinstance(result, SandboxContainer):
                        slot.container = result
                    self._idle.put(slot)
                if failures:
                    await self._shutdown()
                    raise SandboxError(f"could not start the sandbox pool: {failures[0]}")
            self._started = True

    async def _start_pool(self) -> list[SandboxContainer | BaseException]:
        """Start one container per slot. If the caller is cancelled meanwhile, every container
        that did start is killed before the cancellation goes on: nobody would ever use them."""
        tasks = [
            asyncio.create_task(self._new_container(self.config.limits, fresh=False)) for _ in self._slots
        ]
        try:
            return await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            await asyncio.shield(self._discard_started(tasks))
            raise

    async def _discard_started(self, tasks: list[asyncio.Task[SandboxContainer]]) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        started = [t.result() for t in tasks if not t.cancelled() and t.exception() is None]
        for container in started:
            self._live.discard(container)
        await asyncio.gather(*(c.kill() for c in started), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop every container this judge started and wait until Docker has removed them."""
        self._closed = True
        await self._shutdown()

    async def settle(self) -> None:
        """Wait until the fresh containers of verdicts already given are gone.

        A fresh verdict does not wait for Docker to remove its container; a benchmark that pairs
        each judgement with a baseline calls this in between, so one sample's cleanup does not
        slow the next measurement (on either side of the ratio).
        """
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def __aenter__(self) -> DockerJudge:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _shutdown(self) -> None:
        for task in list(self._background):
            task.cancel()
        for slot in self._slots:
            if slot.starting is not None:
                slot.starting.cancel()
        await asyncio.gather(
            *self._background,
            *(s.starting for s in self._slots if s.starting),
            *self._closing,
            return_exceptions=True,
        )
        containers = list(self._live)
        await asyncio.gather(*(c.close(wait_s=3) for c in containers), return_exceptions=True)
        await force_remove(self.config.docker, [c.name for c in containers if c.alive])
        await self._wait_removed()
        self._live.clear()
        self._started = False

    async def _wait_removed(self, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            remaining = await self.container_ids()
            if not remaining:
                return
            await force_remove(self.config.docker, remaining)
            await asyncio.sleep(0.2)

    async def container_ids(self) -> list[str]:
        """Ids of every container (running or not) this judge instance owns."""
        code, out, _ = await docker_cli(
            self.config.docker, "ps", "-aq", "--filter", f"label={INSTANCE_LABEL}={self.id}"
        )
        return out.split() if code == 0 else []

    def pool_names(self) -> set[str]:
        """Names of the warm containers the pool holds: the only ones an idle judge should own."""
        return {s.container.name for s in self._slots if s.container is not None and s.container.alive}

    # -- containers -----------------------------------------------------------------------------
    async def _new_container(
        self, limits: JudgeLimits, *, fresh: bool, first: Submission | None = None
    ) -> SandboxContainer:
        assert self.image is not None
        self._counter += 1
        container = SandboxContainer(
            docker=self.config.docker,
            image=self.image,
            name=f"rfx-judge-{self.id}-{self._counter}",
            labels=self._labels,
            limits=limits,
            runtime=self.config.runtime,
            fresh=fresh,
        )
        self._live.add(container)
        try:
            request = container.request(first, limits) if first is not None else b""
            await container.start(self.config.start_timeout_s, request)
        except BaseException:
            self._live.discard(container)
            await asyncio.shield(container.kill())
            raise
        return container

    def _retire(self, container: SandboxContainer) -> None:
        self._live.discard(container)
        self._spawn(container.kill())

    def _spawn(self, coro: Coroutine[object, object, object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _replace(self, slot: _Slot) -> None:
        """Start the slot's next container in the background so the next call finds it warm."""
        if slot.starting is None and not self._closed:
            slot.starting = asyncio.create_task(self._new_container(self.config.limits, fresh=False))

    async def ready(self) -> None:
        """Wait until no slot is starting a container (a recycled one's successor is up)."""
        await asyncio.gather(*(s.starting for s in self._slots if s.starting), return_exceptions=True)

    async def _slot_container(self, slot: _Slot) -> SandboxContainer:
        if slot.container is not None and slot.container.alive:
            successor = slot.starting
            if successor is not None and successor.done():  # make-before-break: swap in the new one
                slot.starting = None
                if not successor.cancelled() and successor.exception() is None:
                    self._retire(slot.container)
                    slot.container = successor.result()
                # a successor that failed to start: this one keeps serving, the next run retries
            return slot.container
        if slot.container is not None:
            self._retire(slot.container)
            slot.container = None
        self._replace(slot)
        assert slot.starting is not None
        starting = slot.starting
        try:
            slot.container = await starting
        except asyncio.CancelledError:
            # Cancelled just as the start finished: the container is healthy, keep it for the pool.
            if starting.done() and not starting.cancelled() and starting.exception() is None:
                slot.container = starting.result()
            raise
        finally:
            slot.starting = None
        return slot.container

    # -- judging --------------------------------------------------------------------------------
    async def judge(
        self, submission: Submission, limits: JudgeLimits | None = None, *, priority: datetime | None = None
    ) -> Verdict:
        """Run one submission; never raises except CancelledError. `priority` orders a busy pool."""
        started = time.monotonic()
        limits = limits or self.config.limits
        problem = submission_problem(submission)
        if problem:
            return Verdict(status="error", detail=f"invalid submission: {problem}")
        try:
            await self.start()
        except SandboxError as exc:
            return sandbox_error(exc.detail, (time.monotonic() - started) * 1000)
        try:
            if self.config.mode == "pooled" and _fits_pool(limits, self.config.limits):
                result = await self._judge_pooled(
                    submission, limits, None if priority is None else priority.timestamp()
                )
            else:
                async with self._fresh_gate:
                    result = await self._judge_fresh(submission, limits)
        except ContainerGone as exc:
            return sandbox_error(str(exc), (time.monotonic() - started) * 1000)
        except SandboxError as exc:
            return sandbox_error(exc.detail, (time.monotonic() - started) * 1000)
        except Exception as exc:  # a bug here must still be a verdict, not a crashed episode
            elapsed = (time.monotonic() - started) * 1000
            return sandbox_error(f"judge failure: {type(exc).__name__}: {exc}", elapsed)
        if result.outcome == "memory" and result.report is None:
            return Verdict(status="memory", detail=result.detail, duration_ms=round(result.duration_ms, 3))
        if result.outcome == "runner_error" or (result.report is None and result.outcome == "ok"):
            return sandbox_error(result.detail or "the sandbox returned no report", result.duration_ms)
        return verdict_from_report(result.report or {}, _runner_view(result), result.duration_ms)

    async def _judge_pooled(
        self, submission: Submission, limits: JudgeLimits, priority: float | None
    ) -> RunResult:
        slot = await self._idle.get(priority)
        try:
            try:
                return await self._run_in_slot(slot, submission, limits)
            except ContainerGone:
                # Killed from outside or crashed between runs: the pool survives; try once more.
                return await self._run_in_slot(slot, submission, limits)
        finally:
            self._idle.put(slot)

    async def _run_in_slot(self, slot: _Slot, submission: Submission, limits: JudgeLimits) -> RunResult:
        container = await self._slot_container(slot)
        try:
            result = await container.run(submission, limits)
        except ContainerGone:
            self._retire(container)
            slot.container = None
            raise
        except asyncio.CancelledError:
            self._live.discard(container)
            slot.container = None
            raise
        if result.trouble:
            self._retire(container)
            slot.container = None
            self._replace(slot)
        elif recycle_due(container.runs, self.config.recycle_after, self._idle.waiting()):
            self._replace(slot)  # it serves on until the successor is up
        return result

    async def _judge_fresh(self, submission: Submission, limits: JudgeLimits) -> RunResult:
        container = await self._new_container(limits, fresh=True, first=submission)
        try:
            return await container.run(submission, limits)
        finally:
            # The verdict does not wait for Docker to remove the container; aclose() does.
            self._closing_task(container)

    def _closing_task(self, container: SandboxContainer) -> None:
        async def close() -> None:
            try:
                await container.close(wait_s=10)
            finally:
                self._live.discard(container)

        task = asyncio.ensure_future(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def recycle_due(runs: int, recycle_after: int, waiting: int) -> bool:
    """Whether a clean container's successor should start now: past `recycle_after` runs, at a
    moment no judgement waits for a container, or past twice that whatever the load. A start costs
    far more host CPU than a judgement (docker, runc, the runner's start); in a burst that is paid on
    top of the burst's own judgements, and a pool's containers tend to cross the count together."""
    return runs >= 2 * recycle_after or (runs >= recycle_after and waiting == 0)


def _fits_pool(limits: JudgeLimits, pool_limits: JudgeLimits) -> bool:
    """Container-level limits are fixed when a container starts; per-run ones can vary."""
    return all(getattr(limits, f) == getattr(pool_limits, f) for f in CONTAINER_LIMIT_FIELDS)


def _runner_view(result: RunResult) -> dict[str, object]:
    outcome = result.outcome
    if outcome == "crashed":
        outcome, detail = "error", result.detail or "the harness died"
    else:
        detail = result.detail
    return {"outcome": outcome, "detail": detail}


def submission_problem(submission: Submission) -> str:
    """What is wrong with a submission's shape, or "" (the API turns this into a 422)."""
    if submission.tests and not submission.entry_point:
        return "tests need an entry_point (the function check(candidate) is called with)"
    if submission.pytest and (submission.tests or submission.asserts):
        return "a pytest module is judged alone: give pytest without tests or asserts"
    if submission.entry_point and not submission.entry_point.isidentifier():
        return f"entry_point {submission.entry_point!r} is not a Python identifier"
    return ""
