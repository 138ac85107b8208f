"""The /proc readings the benchmarks share: one process's stat line and the host's CPU time.

proc(5): the command name in /proc/<pid>/stat may hold spaces and parentheses, so the other fields
are split after the last ')'. Times are in clock ticks; these readings give seconds.
"""

from __future__ import annotations

import os
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
