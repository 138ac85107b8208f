"""The API process's own background tasks (the `--with-worker` worker), watched so none dies unseen.

A task that ends while the process serves is a failure whatever its reason: it is logged with its
traceback, `/readyz` names it from then on, and the process is asked to exit (`request_exit`, set by
`rfx serve`) so that it ends non-zero and its supervisor restarts it. One ending during shutdown with
an error counts too: shutdown does not swallow it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from app.errors import BackgroundTaskDied, ReflexionError

log = logging.getLogger("rfx.api")


@dataclass
class BackgroundTasks:
    failures: dict[str, str] = field(default_factory=dict)  # task name -> what ended it
    request_exit: Callable[[], None] | None = None  # set by `rfx serve`: stop serving
    stopping: bool = False

    def watch(self, task: asyncio.Task[None]) -> None:
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        name = task.get_name()
        if task.cancelled():
            exc: BaseException | None = None
            if self.stopping:
                return
            detail = "it was cancelled"
        else:
            exc = task.exception()
            if exc is None and self.stopping:
                return  # stopped as asked
            if exc is None:
                detail = "it returned while the server was still serving"
            elif isinstance(exc, ReflexionError):
                detail = exc.detail
            else:
                detail = f"{type(exc).__name__}: {exc}"
        self.failures[name] = detail[:500]
        log.error("background task %r died: %s", name, detail, exc_info=exc)
        if self.request_exit is not None:
            self.request_exit()

    def raise_if_failed(self) -> None:
        """After the server stopped: the first failure as the process's error (exit non-zero)."""
        for name, detail in self.failures.items():
            raise BackgroundTaskDied(name, detail)
