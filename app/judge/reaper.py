"""Find and remove sandbox containers whose owning judge process is gone.

Every container carries `rfx.judge.owner=<host>:<pid>:<process start time>`. A judge starting up
removes containers from its own host whose owner no longer runs (the start time guards against a
recycled pid); containers of live judges, including other processes' pools, are left alone.
"""

from __future__ import annotations

import os
import socket

from app.judge.container import docker_cli, force_remove

JUDGE_LABEL = "rfx.judge"
OWNER_LABEL = "rfx.judge.owner"
INSTANCE_LABEL = "rfx.judge.instance"


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def owner_token(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start_time(pid) or '0'}"


def owner_alive(token: str) -> bool:
    """True unless the token names a process on this host that is gone (or was replaced)."""
    host, _, rest = token.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    return process_start_time(int(pid_text)) == started


async def orphaned_containers(docker: str) -> list[str]:
    code, out, _ = await docker_cli(
        docker,
        "ps",
        "-a",
        "--filter",
        f"label={JUDGE_LABEL}",
        "--format",
        '{{.ID}}\t{{.Label "' + OWNER_LABEL + '"}}',
    )
    if code != 0:
        return []
    orphans = []
    for line in out.splitlines():
        container_id, _, owner = line.partition("\t")
        if container_id and not owner_alive(owner.strip()):
            orphans.append(container_id.strip())
    return orphans


async def reap_orphans(docker: str) -> list[str]:
    """Remove sandbox containers left by dead judge processes on this host; returns their ids."""
    orphans = await orphaned_containers(docker)
    await force_remove(docker, orphans)
    return orphans
