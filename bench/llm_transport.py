"""CPU per LLM call with many calls in flight: the SDK's typed create() on httpx (what
OpenAIChatModel did before), the same on the SDK's aiohttp transport, and OpenAIChatModel.complete
as it is now (aiohttp, and the SDK's generic post() instead of create()).

A worker running 200 episodes has ~200 chat calls waiting on the model at once. httpx's connection
pool scans every connection on each request and each response close; aiohttp's does not. create()
also runs every message through the SDK's TypedDict transform. This measures the client process's
own CPU time per call (user + system, so the fake server's work and the machine's load do not
count) for the three callers in one run, alternating rounds, against the project's fake server on
loopback with a fixed latency.

    python bench/llm_transport.py [--concurrency 200] [--rounds 3] [--latency 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import openai

from app.llm.config import ProviderConfig
from app.llm.openai_chat import OpenAIChatModel
from app.reflexion.models import ChatMessage

ROOT = Path(__file__).resolve().parent.parent
# A retry prompt's shape: system, first ask, the failed answer, the feedback and lessons.
MESSAGES = [
    ("system", "You are an expert Python programmer. " * 10),
    ("user", "Complete the Python function below. " * 40),
    ("assistant", "```python\ndef add(a, b):\n    return a - b\n```"),
    ("user", "Your code failed: assert add(1, 2) == 3; add(1, 2) returned -1. Lessons: ... " * 8),
]


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


Call = Callable[[], Awaitable[None]]


async def per_call_cpu_ms(call: Call, concurrency: int) -> float:
    """One round of `concurrency` simultaneous calls: this process's CPU ms per call."""
    before = cpu_s()
    await asyncio.gather(*(call() for _ in range(concurrency)))
    return (cpu_s() - before) / concurrency * 1000


def sdk_create(client: openai.AsyncOpenAI) -> Call:
    async def call() -> None:
        raw = await client.chat.completions.with_raw_response.create(
            model="fake-actor",
            messages=[{"role": role, "content": content} for role, content in MESSAGES],
        )
        assert raw.http_response.status_code == 200

    return call


def adapter(model: OpenAIChatModel) -> Call:
    async def call() -> None:
        completion = await model.complete([ChatMessage(role=role, content=text) for role, text in MESSAGES])
        assert completion.outcome == "ok", completion.error

    return call


async def measure(base_url: str, concurrency: int, rounds: int) -> dict[str, list[float]]:
    httpx_client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
    aiohttp_client = openai.AsyncOpenAI(
        base_url=base_url, api_key="x", max_retries=0, http_client=openai.DefaultAioHttpClient()
    )
    model = OpenAIChatModel(
        ProviderConfig(name="bench", base_url=base_url, model="fake-actor", max_retries=0)
    )
    callers = {
        "sdk create, httpx (before)": sdk_create(httpx_client),
        "sdk create, aiohttp": sdk_create(aiohttp_client),
        "OpenAIChatModel.complete (now)": adapter(model),
    }
    results: dict[str, list[float]] = {name: [] for name in callers}
    try:
        for call in callers.values():
            await per_call_cpu_ms(call, concurrency)  # warm-up: open the connections
        for _ in range(rounds):  # alternate, so drift lands on every side
            for name, call in callers.items():
                results[name].append(await per_call_cpu_ms(call, concurrency))
    finally:
        await httpx_client.close()
        await aiohttp_client.close()
        await model.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0, help="fake server latency per call, s")
    parser.add_argument("--port", type=int, default=9317)
    args = parser.parse_args()
    if not (1 <= args.concurrency <= 1000 and 1 <= args.rounds <= 20 and 0 <= args.latency <= 10):
        parser.error("--concurrency 1..1000, --rounds 1..20, --latency 0..10")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.llm.fake_server",
            "--port",
            str(args.port),
            "--latency",
            str(args.latency),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{args.port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/models", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("bench: the fake server did not start") from None
                time.sleep(0.1)
        results = asyncio.run(measure(base_url, args.concurrency, args.rounds))
    finally:
        server.terminate()
        server.wait(10)
    medians = {name: statistics.median(values) for name, values in results.items()}
    report = {
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "cpu_ms_per_call": {name: round(value, 2) for name, value in medians.items()},
        "over_before": {
            name: round(value / medians["sdk create, httpx (before)"], 3) for name, value in medians.items()
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
