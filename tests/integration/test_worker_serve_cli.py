"""`rfx serve --with-worker`: the one-process local setup runs an episode end to end over HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.services import free_port
from tests.integration.apiserver import script_fail_then_fix, service_settings, task_body, worker_env


def test_serve_with_worker_runs_an_episode(
    redis_url: str, key_prefix: str, fake_llm: Any, sandbox_image: str, tmp_path: Path
) -> None:
    script_fail_then_fix(fake_llm)
    settings = service_settings(redis_url, key_prefix, fake_llm.base_url, judge_image=sandbox_image)
    env = worker_env(settings, RFX_JUDGE_WORKERS="1")
    port = free_port()
    log = tmp_path / "serve.log"
    rfx = Path(sys.executable).with_name("rfx")
    with log.open("wb") as out:
        args = [str(rfx), "serve", "--port", str(port), "--with-worker", "--host", "0.0.0.0"]
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        # the served process froze its start-up heap: full GC passes skip those objects
        assert frozen_objects(httpx.get(f"{base}/metrics", timeout=10).text) > 10_000
        episode_id = httpx.post(f"{base}/v1/episodes", json=task_body(), timeout=30).json()["id"]
        while True:
            episode = httpx.get(f"{base}/v1/episodes/{episode_id}", timeout=30).json()
            if episode["status"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline + 60, log.read_text()[-2000:]
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    text = log.read_text()
    assert episode["status"] == "succeeded"
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught: exit by that signal
    assert rc in (0, -signal.SIGTERM), text[-2000:]
    assert "rfx.worker: worker" in text and text.rstrip().endswith("stopped"), text[-2000:]
    # no RFX_API_KEYS: it refused the wildcard address, bound loopback, and said so
    assert "binding to 127.0.0.1 instead of 0.0.0.0" in text


def frozen_objects(metrics: str) -> float:
    return next(
        float(ln.split()[1]) for ln in metrics.splitlines() if ln.startswith("rfx_gc_frozen_objects ")
    )


def test_serve_in_several_processes_freezes_each_start_up_heap(
    redis_url: str, key_prefix: str, fake_llm: Any, tmp_path: Path
) -> None:
    """`rfx serve --processes 2`: each process builds its app and freezes its start-up heap (a full
    GC pass in a fresh API process scanned ~85,000 objects, 27-73 ms with nothing served)."""
    settings = service_settings(redis_url, key_prefix, fake_llm.base_url)
    port = free_port()
    log = tmp_path / "serve.log"
    rfx = Path(sys.executable).with_name("rfx")
    with log.open("wb") as out:
        args = [str(rfx), "serve", "--port", str(port), "--processes", "2"]
        proc = subprocess.Popen(args, env=worker_env(settings), stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        seen: list[float] = []
        while len(seen) < 6:
            try:
                seen.append(frozen_objects(httpx.get(f"{base}/metrics", timeout=5).text))
            except httpx.HTTPError:
                time.sleep(0.2)
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert "in 2 processes" in log.read_text()
    assert all(n > 10_000 for n in seen), seen
