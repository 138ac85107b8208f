"""episodes.jsonl: the durable record of a benchmark run, one finished Episode per line.

Why a plain append-only file: it makes a run resumable (a (strategy, problem) pair already in the
file is not run again), it is the single source every figure is computed from, and `rfx export
--from DIR` reads it. Each line is flushed and fsynced before the next problem counts as done; a
line cut short by a crash is ignored on reading (that pair simply runs again).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from app.errors import InvalidInput
from app.reflexion.models import Episode

EPISODES_FILE = "episodes.jsonl"


class EpisodeLog:
    def __init__(self, directory: Path) -> None:
        self.path = directory / EPISODES_FILE

    def read(self) -> list[Episode]:
        """Every complete episode in the file; a torn last line (crash mid-write) is skipped."""
        if not self.path.exists():
            return []
        episodes: list[Episode] = []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                episodes.append(Episode.model_validate_json(line))
            except ValidationError as exc:
                if number == len(lines) and not line.endswith("}"):
                    continue  # torn write of the last line
                raise InvalidInput(
                    f"{self.path}:{number}: not an episode record ({exc.error_count()} errors)"
                ) from None
        return episodes

    def done(self) -> set[tuple[str, str]]:
        """(strategy, task id) pairs that already have a finished episode."""
        return {(e.config.strategy, e.task.id) for e in self.read()}

    def append(self, episode: Episode) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_torn_tail()
        line = episode.model_dump_json() + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def _repair_torn_tail(self) -> None:
        """Cut a partial last line so that the next record starts on a line of its own."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        with open(self.path, "r+b") as handle:
            handle.truncate(keep)


def read_episodes_dir(directory: Path) -> list[Episode]:
    """Episodes of a finished or interrupted run directory (for reports and `rfx export --from`)."""
    log = EpisodeLog(directory)
    if not log.path.exists():
        raise InvalidInput(f"{directory} has no {EPISODES_FILE}: not a benchmark run directory")
    return log.read()


def latest_per_pair(episodes: list[Episode]) -> list[Episode]:
    """One episode per (strategy, task): the last one written (a rerun after a sandbox failure wins)."""
    latest = {(e.config.strategy, e.task.id): e for e in episodes}
    return list(latest.values())
