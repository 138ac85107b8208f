"""The /proc readings the benchmarks share: one process's stat line and the host's CPU time.

proc(5): the command name in /proc/<pid>/stat may hold spaces and parentheses, so the other fields
are split after the last ')'. Times are in clock ticks; these readings give seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import NamedTuple

TICKS = os.sysconf("SC_CLK_TCK")


class ProcStat(NamedTuple):
    comm: str
    rest: list[bytes]  # the fields after the command name: rest[0] is proc(5)'s field 3 (state)

    @property
    def ppid(self) -> int:
        return int(self.rest[1])

    @property
    def minor_faults(self) -> float:
        return float(self.rest[7])

    @property
    def children_minor_faults(self) -> float:
        """Of the children it has reaped (for a sandbox runner: each run's harness and candidate)."""
        return float(self.rest[8])

    @property
    def cpu_s(self) -> float:
        """user + system time of the process itself."""
        return (int(self.rest[11]) + int(self.rest[12])) / TICKS

    @property
    def children_cpu_s(self) -> float:
        """user + system time of the children it has reaped."""
        return (int(self.rest[13]) + int(self.rest[14])) / TICKS

    @property
    def nice(self) -> int:
        return int(self.rest[16])


def proc_stat(pid: int) -> ProcStat:
    """One process's stat line; OSError when it is gone."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        data = handle.read()
    comm = data[data.find(b"(") + 1 : data.rfind(b")")].decode(errors="replace")
    return ProcStat(comm, data[data.rfind(b")") + 2 :].split())


def host_cpu_s() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole host since boot: busy is all but idle, iowait and
    steal; steal is the time a VM's neighbours took from it."""
    with open("/proc/stat") as handle:
        cpu = [int(x) for x in handle.readline().split()[1:]]
    return (sum(cpu[:7]) - cpu[3] - cpu[4]) / TICKS, cpu[7] / TICKS


class CpuTimeline:
    """The host's CPU use in short steps while a batch runs.

    A step is saturated when the busy time plus steal filled (nearly) every core. Time an episode
    waits during saturated steps is a wait for CPU: no scheduling inside the service can shorten
    it, only less work or more cores. /proc/stat counts in clock ticks (10 ms), so a 0.1 s step on
    2 cores is read to within 5 %.
    """

    def __init__(self, step_s: float = 0.1) -> None:
        self.step_s = step_s
        self.samples: list[tuple[float, float, float]] = []  # (unix time, busy s, steal s)

    async def record(self) -> None:
        """Sample until cancelled."""
        while True:
            self.samples.append((time.time(), *host_cpu_s()))
            await asyncio.sleep(self.step_s)

    def _steps(self, since: float, until: float) -> list[tuple[float, float, float, float]]:
        """(seconds inside [since, until], that step's length, its busy seconds, its steal seconds)."""
        steps = []
        for (t0, busy0, steal0), (t1, busy1, steal1) in itertools.pairwise(self.samples):
            inside = min(t1, until) - max(t0, since)
            if inside > 0 and t1 > t0:
                steps.append((inside, t1 - t0, busy1 - busy0, steal1 - steal0))
        return steps

    def used_s(self, since: float, until: float) -> tuple[float, float]:
        """(busy, steal) CPU-seconds of the host in [since, until]; a step cut by an edge counts in
        proportion to its part inside."""
        return self._used(self._steps(since, until))

    @staticmethod
    def _used(steps: list[tuple[float, float, float, float]]) -> tuple[float, float]:
        busy = sum(step_busy * inside / length for inside, length, step_busy, _ in steps)
        steal = sum(step_steal * inside / length for inside, length, _, step_steal in steps)
        return busy, steal

    def saturated_s(self, since: float, until: float, cpus: int, threshold: float = 0.9) -> float:
        """Seconds of [since, until] in steps where busy + steal reached `threshold` of every core."""
        return sum(
            inside
            for inside, length, busy, steal in self._steps(since, until)
            if busy + steal >= threshold * cpus * length
        )

    def busy_shares(self, since: float, until: float, cpus: int, bucket_s: float = 0.5) -> list[float]:
        """The cores' busy + steal share in each `bucket_s` of [since, until], for a look at the bursts."""
        shares = []
        start = since
        while start < until:
            steps = self._steps(start, min(start + bucket_s, until))
            inside = sum(step_inside for step_inside, *_ in steps)
            used = sum(self._used(steps))
            shares.append(round(used / (cpus * inside), 2) if inside else 0.0)
            start += bucket_s
        return shares
