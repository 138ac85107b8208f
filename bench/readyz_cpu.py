"""What one `/readyz` call costs the API process in CPU, next to `/healthz` (no dependency asked).

    .venv/bin/python bench/readyz_cpu.py [--calls 300] [--out FILE]

`/readyz` is unauthenticated, so anyone who can reach the API can call it in a loop: its cost is
paid by the process that serves episodes. This starts a private redis-server and `rfx serve` (one
process, the sandbox image's tag computed from sandbox/ as deployed, no RFX_JUDGE_IMAGE) on loopback
ports, warms both routes, then makes `--calls` sequential calls to each route on one keep-alive
connection and reads the API process's user+system CPU time from /proc before and after
(bench/procstat.py). Reported per call, in ms: the CPU of the API process (whatever the host's
load: it is the process's own time) and the wall time seen by the client.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from procstat import proc_stat

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not answer")


def measure(client: httpx.Client, pid: int, path: str, calls: int) -> dict[str, object]:
    """CPU of process `pid` and client wall time per call over `calls` sequential calls."""
    statuses: dict[int, int] = {}
    cpu_before = proc_stat(pid).cpu_s
    wall_before = time.perf_counter()
    for _ in range(calls):
        status = client.get(path).status_code
        statuses[status] = statuses.get(status, 0) + 1
    wall = time.perf_counter() - wall_before
    cpu = proc_stat(pid).cpu_s - cpu_before
    return {
        "calls": calls,
        "api_cpu_ms_per_call": round(cpu / calls * 1000, 3),
        "wall_ms_per_call": round(wall / calls * 1000, 3),
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per route (bounded loop)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("bench: redis-server is not installed")
    redis_port, api_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RFX_", "OPENAI_"))}
    env.update({"RFX_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "RFX_KEY_PREFIX": "rfxbench-readyz"})
    rfx = str(Path(sys.executable).with_name("rfx"))
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="rfx-readyz-") as tmp:
        try:
            redis_args = [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
            procs.append(subprocess.Popen([*redis_args, "--dir", tmp], stdout=subprocess.DEVNULL))
            with open(Path(tmp) / "api.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [rfx, "serve", "--port", str(api_port)], env=env, cwd=ROOT, stdout=log, stderr=log
                    )
                )
            base = f"http://127.0.0.1:{api_port}"
            wait_http(f"{base}/healthz")
            api_pid = procs[-1].pid
            with httpx.Client(base_url=base, timeout=30) as client:
                for path in ("/healthz", "/readyz"):  # warm: connection, imports, first-call caches
                    for _ in range(20):
                        client.get(path)
                ready = client.get("/readyz").json()
                result = {
                    "readyz": measure(client, api_pid, "/readyz", args.calls),
                    "healthz": measure(client, api_pid, "/healthz", args.calls),
                    "readyz_answer": ready,
                }
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
