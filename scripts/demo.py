"""`make demo`: one real Reflexion episode through the HTTP API, printed trial by trial.

It starts `rfx serve --with-worker` on a free loopback port, submits a HumanEval problem with the
Python client (`reflexion_client`, the same one apps use), follows the episode's live event stream,
and prints every trial's code, verdict per test, the lesson and the final result. The models are the
ones the `RFX_ACTOR_*`/`RFX_REFLECTOR_*` environment configures; with none configured it uses the
bundled local Qwen2.5-Coder model (`rfx model start`) and says so.

Environment: RFX_DEMO_TASK (default: DEFAULT_TASK below), RFX_DEMO_MAX_TRIALS (3).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from reflexion_client import Client
from reflexion_client.models import Attempt, Episode
from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax

from app.benchmark.datasets import humaneval_task
from app.benchmark.visible_tests import with_visible_tests
from app.llm.providers import ModelRegistry
from app.settings import Settings

# The 0.5B model fails this one at first at temperature 0 (see tests/e2e/test_real_model.py).
DEFAULT_TASK = "HumanEval/10"
console = Console(stderr=False, highlight=False)
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def choose_models(env: dict[str, str]) -> str:
    """Configured endpoint, or the bundled local model started on demand."""
    if ModelRegistry.from_settings(Settings()).is_configured():
        return "the configured model (RFX_ACTOR_*)"
    console.print(
        "[yellow]No RFX_ACTOR_* endpoint configured: using the bundled local model "
        "(Qwen2.5-Coder-0.5B on llama.cpp, loopback only).[/]"
    )
    started = subprocess.run(
        [str(VENV_BIN / "rfx"), "model", "start"], check=False, text=True, stdout=subprocess.PIPE
    )
    if started.returncode != 0:
        raise SystemExit(started.returncode)
    env["RFX_ACTOR_PROVIDER"] = "local"
    return f"the local model at {started.stdout.strip()}"


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [str(VENV_BIN / "rfx"), "serve", "--with-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(env["RFX_DEMO_LOG"]), "wb"),  # noqa: SIM115
    )
    with Client(f"http://127.0.0.1:{port}") as probe:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"demo: rfx serve exited ({server.returncode}); see {env['RFX_DEMO_LOG']}")
            try:
                probe._http.get("/readyz").raise_for_status()
                return server
            except Exception:  # not up yet
                time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"demo: rfx serve did not become ready; see {env['RFX_DEMO_LOG']}")


def show_attempt(attempt: Attempt) -> None:
    console.print(
        Panel(
            Syntax(attempt.code or "# (no code in the reply)", "python"),
            title=f"trial {attempt.trial}: code",
            expand=False,
        )
    )
    shown = (
        ("feedback (tests the model sees)", attempt.feedback),
        ("hidden tests (grading)", attempt.hidden),
    )
    for label, verdict in shown:
        if verdict is None:
            continue
        colour = "green" if verdict.status == "passed" else "red"
        console.print(f"  {label}: [{colour}]{verdict.status}[/]")
        for test in verdict.tests[:8]:
            mark = "[green]✓[/]" if test.passed else "[red]✗[/]"
            console.print(f"    {mark} {test.name}" + (f"  — {test.message}" if test.message else ""))


def follow(client: Client, episode: Episode) -> Episode:
    shown = 0
    for event in client.stream_events(episode.id):
        if event.type == "attempt.judged":
            current = client.get(episode.id)
            for attempt in current.attempts[shown:]:
                if attempt.feedback is not None or attempt.hidden is not None:
                    show_attempt(attempt)
                    shown += 1
        elif event.type == "reflection.created":
            console.print(
                Panel(
                    str(event.data.get("text", "")),
                    title="lesson (stored in Redis memory)",
                    border_style="yellow",
                    expand=False,
                )
            )
    return client.get(episode.id)


def main() -> None:
    # Visible tests from the docstring examples are the feedback; HumanEval's own tests stay hidden.
    task = with_visible_tests(humaneval_task(os.environ.get("RFX_DEMO_TASK", DEFAULT_TASK)))
    env = dict(os.environ)
    env.setdefault("RFX_DEMO_LOG", "/tmp/rfx-demo-server.log")
    models = choose_models(env)
    port = free_port()
    server = start_server(env, port)
    try:
        with Client(f"http://127.0.0.1:{port}", timeout=30) as client:
            config = {"strategy": "reflexion", "max_trials": int(os.environ.get("RFX_DEMO_MAX_TRIALS", "3"))}
            episode = client.submit(task.model_dump(exclude_none=True), config=config)
            console.print(
                f"[bold]Episode {episode.id}[/]: {task.id} ({task.entry_point}), strategy reflexion, "
                f"actor {models}, via POST http://127.0.0.1:{port}/v1/episodes"
            )
            final = follow(client, episode)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    colour = "green" if final.status == "succeeded" else "red"
    console.print(
        f"\n[bold]Result:[/] [{colour}]{final.status}[/] (stop reason {final.stop_reason}) after "
        f"{len(final.attempts)} trial(s), {final.usage.prompt_tokens + final.usage.completion_tokens} "
        f"tokens; the hidden tests grade the final answer."
    )


if __name__ == "__main__":
    main()
