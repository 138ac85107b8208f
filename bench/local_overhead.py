"""Overhead of the service's LLM path over calling the local model server directly.

    .venv/bin/python bench/local_overhead.py [--tasks 6] [--rounds 2] [--max-tokens 192] [--out FILE]

What is compared, honestly: the same chat request (the project's own actor prompt for a HumanEval
problem, temperature 0, same max_tokens) sent to the same llama.cpp server
  - directly: one raw HTTP POST to /v1/chat/completions with httpx, JSON parsed, nothing else;
  - through the service: `OpenAIChatModel.complete()` (the openai SDK with retries and timeouts,
    reply validation, usage and cost accounting), the exact object `rfx run` and the worker use.
Before each pair, one unmeasured direct call with the same prompt warms llama.cpp's prompt cache,
so both arms pay the same (generation-only) work; the order inside each pair alternates so drift
and contention on a shared host fall on both arms alike. Both arms must produce the same text
(temperature 0), which the report checks. The first figure is total service time / total direct time.

On a shared host one generation varies by tens of percent from call to call, which can drown a
difference of milliseconds either way. So a second phase sends one-token replies to a cached prompt
(`--probe-pairs`, same alternation): what remains is each path's per-call cost, and the median extra
cost of the service path is reported as a share of the median full-length direct call.

The server is started on a free loopback port for the run and stopped afterwards, unless --port
names one already serving the model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from app.benchmark.datasets import load_problems
from app.benchmark.visible_tests import with_visible_tests
from app.llm import local_model
from app.llm.config import ProviderConfig
from app.llm.openai_chat import OpenAIChatModel
from app.prompts import FilePromptBook, default_prompt_book
from app.reflexion.conversation import Conversation
from app.reflexion.models import ChatMessage, Task


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def direct(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> tuple[float, str, int]:
    started = time.perf_counter()
    reply = await client.post(url, json=body)
    reply.raise_for_status()
    data = reply.json()
    elapsed = time.perf_counter() - started
    return elapsed, data["choices"][0]["message"]["content"], int(data["usage"]["completion_tokens"])


async def through_service(
    model: OpenAIChatModel, messages: list[ChatMessage], max_tokens: int
) -> tuple[float, str, int]:
    started = time.perf_counter()
    completion = await model.complete(messages, temperature=0.0, max_tokens=max_tokens)
    elapsed = time.perf_counter() - started
    if completion.outcome not in ("ok", "truncated"):
        raise RuntimeError(f"service call failed: {completion.outcome} {completion.error}")
    return elapsed, completion.text, completion.usage.completion_tokens


async def fixed_cost_pairs(
    client: httpx.AsyncClient,
    url: str,
    model: OpenAIChatModel,
    task: Task,
    book: FilePromptBook,
    alias: str,
    count: int,
) -> list[tuple[float, float]]:
    """(direct, service) seconds of one-token replies to a cached prompt: the per-call cost of each
    path with generation taken out, so that contention noise (seconds) does not drown it (ms)."""
    messages = Conversation(book, {}).actor_initial(task, task.visible_tests, [])
    body = {
        "model": alias,
        "messages": [m.model_dump() for m in messages],
        "temperature": 0.0,
        "max_tokens": 1,
    }
    await direct(client, url, body)
    probes: list[tuple[float, float]] = []
    for index in range(count):
        if index % 2:
            s = await through_service(model, messages, 1)
            d = await direct(client, url, body)
        else:
            d = await direct(client, url, body)
            s = await through_service(model, messages, 1)
        probes.append((d[0], s[0]))
    return probes


def summarize_probes(
    probes: list[tuple[float, float]], typical_call_s: float, max_tokens: int
) -> dict[str, Any]:
    direct_ms = statistics.median(d for d, _ in probes) * 1000
    service_ms = statistics.median(s for _, s in probes) * 1000
    extra_ms = statistics.median((s - d) for d, s in probes) * 1000
    return {
        "what": "one-token replies to a cached prompt: per-call cost of each path without generation",
        "pairs": len(probes),
        "direct_median_ms": round(direct_ms, 2),
        "service_median_ms": round(service_ms, 2),
        "service_extra_median_ms": round(extra_ms, 2),
        "typical_call_s": round(typical_call_s, 3),
        "typical_call_max_tokens": max_tokens,
        "overhead_pct_of_typical_call": round(100 * extra_ms / 1000 / typical_call_s, 3),
    }


async def measure(
    base_url: str, alias: str, tasks: int, rounds: int, max_tokens: int, probe_pairs: int
) -> dict[str, Any]:
    book = default_prompt_book()
    problems = [with_visible_tests(t) for t in load_problems()[:tasks]]
    config = ProviderConfig(name="local", base_url=base_url, model=alias, timeout_s=1800, max_retries=0)
    model = OpenAIChatModel(config)
    url = f"{base_url}/chat/completions"
    pairs: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=1800) as client:
        for index, task in enumerate(problems):
            messages = Conversation(book, {}).actor_initial(task, task.visible_tests, [])
            body = {
                "model": alias,
                "messages": [m.model_dump() for m in messages],
                "temperature": 0.0,
                "max_tokens": max_tokens,
            }
            await direct(client, url, body)  # warm the prompt cache for both arms
            for round_ in range(rounds):
                service_first = (index + round_) % 2 == 1
                if service_first:
                    s = await through_service(model, messages, max_tokens)
                    d = await direct(client, url, body)
                else:
                    d = await direct(client, url, body)
                    s = await through_service(model, messages, max_tokens)
                pairs.append(
                    {
                        "task": task.id,
                        "round": round_,
                        "service_first": service_first,
                        "direct_s": round(d[0], 4),
                        "service_s": round(s[0], 4),
                        "direct_tokens": d[2],
                        "service_tokens": s[2],
                        "same_text": d[1] == s[1],
                    }
                )
                print(json.dumps(pairs[-1]), flush=True)
        probes = await fixed_cost_pairs(client, url, model, problems[0], book, alias, probe_pairs)
    await model.aclose()
    direct_total = sum(p["direct_s"] for p in pairs)
    service_total = sum(p["service_s"] for p in pairs)
    ratios = [p["service_s"] / p["direct_s"] for p in pairs]
    return {
        "what": "service LLM path (OpenAIChatModel.complete) vs raw HTTP to the same llama.cpp server",
        "model": alias,
        "tasks": tasks,
        "rounds": rounds,
        "max_tokens": max_tokens,
        "pairs": pairs,
        "direct_total_s": round(direct_total, 3),
        "service_total_s": round(service_total, 3),
        "ratio_total": round(service_total / direct_total, 4),
        "overhead_pct": round(100 * (service_total / direct_total - 1), 2),
        "ratio_median_pair": round(statistics.median(ratios), 4),
        "same_text_pairs": sum(p["same_text"] for p in pairs),
        "fixed_cost": summarize_probes(probes, statistics.median(p["direct_s"] for p in pairs), max_tokens),
        "same_tokens_pairs": sum(p["direct_tokens"] == p["service_tokens"] for p in pairs),
        "host": {"machine": platform.machine(), "python": platform.python_version()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--probe-pairs", type=int, default=30, help="one-token pairs for the fixed cost")
    parser.add_argument("--size", default="0.5b")
    parser.add_argument("--port", type=int, default=None, help="reuse a server already on this port")
    parser.add_argument("--out", type=Path, default=Path("bench/real_model/overhead.json"))
    args = parser.parse_args()
    port = args.port or free_port()
    server = local_model.ensure_running(args.size, port)
    try:
        report = asyncio.run(
            measure(server.base_url, server.alias, args.tasks, args.rounds, args.max_tokens, args.probe_pairs)
        )
    finally:
        if server.started:
            local_model.stop(port)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    fixed = report["fixed_cost"]
    print(
        f"per-call extra {fixed['service_extra_median_ms']} ms = {fixed['overhead_pct_of_typical_call']} % "
        f"of a typical {fixed['typical_call_s']} s call; "
        f"service/direct = {report['ratio_total']} ({report['overhead_pct']:+.2f} %), "
        f"median pair {report['ratio_median_pair']}, "
        f"same text {report['same_text_pairs']}/{len(report['pairs'])}"
    )


if __name__ == "__main__":
    main()
