"""`rfx episodes list|show|watch`: look at the episodes of a running server (`rfx serve`).

Tables go to stdout (or the Episode JSON with `--json`, for scripts); the live progress of `watch`
goes to stderr. The server and key come from `--url`/`--api-key` or RFX_URL/RFX_API_KEY; the key is
sent as a Bearer header. `watch` exits 0 when the episode succeeded and 1 when it ended otherwise,
like `rfx run`; unreachable servers and refused requests are one-line errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # the HTTP client and the models load when a command runs, not for --help
    from app.reflexion.models import Attempt, Episode, Event, Verdict

DEFAULT_URL = "http://127.0.0.1:8000"
UrlOption = Annotated[str, typer.Option("--url", envvar="RFX_URL", help="the server (default RFX_URL)")]
KeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="RFX_API_KEY", help="API key (default RFX_API_KEY)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "queued": "dim",
}

episodes_app = typer.Typer(
    help="List, show and watch the episodes of a running server.", no_args_is_help=True
)


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _verdict(verdict: Verdict | None) -> str:
    if verdict is None:
        return "-"
    passed = sum(t.passed for t in verdict.tests)
    style = "green" if verdict.passed else "red"
    return f"[{style}]{verdict.status}[/] {passed}/{len(verdict.tests)}"


@episodes_app.command("list")
def list_episodes(
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    status: Annotated[str | None, typer.Option(help="only episodes with this status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="how many, newest first")] = 20,
    json_out: JsonOption = False,
) -> None:
    """The newest episodes of your tenant, as a table."""
    from app.commands.remote import Remote

    found: list[Episode] = []
    after: str | None = None
    with Remote(url, api_key) as remote:
        while len(found) < limit:
            page, after = remote.page(limit=min(100, limit - len(found)), after=after, status=status)
            found += page
            if not after:
                break
    if json_out:
        typer.echo("[" + ",".join(e.model_dump_json() for e in found) + "]")
        return
    table = Table(title=f"{len(found)} episode(s) at {url}", title_justify="left")
    for column in ("episode", "task", "status", "stop", "trials", "tokens", "created"):
        table.add_column(column, justify="right" if column in ("trials", "tokens") else "left")
    for e in found:
        table.add_row(
            e.id,
            escape(e.task.id),
            _status(e.status),
            e.stop_reason or "",
            str(len(e.attempts)),
            str(e.usage.total_tokens),
            _when(e.created_at),
        )
    Console(highlight=False).print(table)


def _trial_table(attempts: list[Attempt]) -> Table:
    table = Table(title="trials", title_justify="left")
    for column in ("trial", "feedback", "hidden", "tokens", "latency ms", "lesson"):
        table.add_column(column, overflow="fold")
    for a in attempts:
        table.add_row(
            str(a.trial),
            _verdict(a.feedback),
            _verdict(a.hidden),
            str(a.usage.total_tokens),
            f"{a.latency_ms:.0f}",
            escape(a.reflection or a.critique or ""),
        )
    return table


@episodes_app.command("show")
def show(
    episode_id: Annotated[str, typer.Argument(help="the episode id (ep_...)")],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    json_out: JsonOption = False,
) -> None:
    """One episode: status, usage, and per trial the verdicts, tokens, timing and lesson."""
    from app.commands.remote import Remote

    with Remote(url, api_key) as remote:
        episode = remote.episode(episode_id)
    if json_out:
        typer.echo(episode.model_dump_json())
        return
    console = Console(highlight=False)
    console.print(
        f"[bold]{episode.id}[/]  task {escape(episode.task.id)}  {_status(episode.status)}"
        + (f"  stop: {episode.stop_reason}" if episode.stop_reason else "")
    )
    console.print(
        f"strategy {episode.config.strategy}, max trials {episode.config.max_trials}, "
        f"actor {escape(episode.actor_model)}, {episode.usage.total_tokens} tokens, "
        f"created {_when(episode.created_at)}"
    )
    if episode.error:
        console.print(f"[red]error:[/] {escape(episode.error)}")
    if episode.attempts:
        console.print(_trial_table(episode.attempts))
    if episode.final_trial is not None:
        console.print(f"final answer: trial {episode.final_trial}")


def _describe(event: Event) -> str:
    data = event.data
    trial = f"trial {data['trial']} " if "trial" in data else ""
    if event.type == "attempt.judged":
        return f"{trial}judged: feedback {data.get('feedback') or '-'}, hidden {data.get('hidden') or '-'}"
    if event.type == "reflection.created":
        return f"{trial}lesson: {escape(str(data.get('text') or data.get('reflection') or ''))}"
    if event.type == "episode.finished":
        return f"finished: {_status(str(data.get('status', '')))} {data.get('stop_reason') or ''}".rstrip()
    return f"{trial}{event.type.split('.', 1)[1]}"


@episodes_app.command("watch")
def watch(
    episode_id: Annotated[str, typer.Argument(help="the episode id (ep_...)")],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Follow an episode live (SSE) until it finishes; exit 0 if it succeeded, 1 otherwise."""
    from app.commands.remote import Remote

    err = Console(stderr=True, highlight=False)
    with Remote(url, api_key) as remote:
        remote.episode(episode_id)  # unknown ids, bad keys and an unreachable server fail fast, once
        with err.status(f"waiting for events of {episode_id}") as spinner:
            for event in remote.events(episode_id):
                err.print(f"{event.at.strftime('%H:%M:%S')} {_describe(event)}")
                spinner.update(f"{episode_id}: after {event.type}")
        episode = remote.episode(episode_id)
    Console(highlight=False).print(
        f"{episode.id} {_status(episode.status)} "
        f"{episode.stop_reason or ''} {episode.usage.total_tokens} tokens".rstrip()
    )
    if episode.status != "succeeded":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach `rfx episodes ...` to the `rfx` app."""
    app.add_typer(episodes_app, name="episodes")
