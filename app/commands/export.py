"""`rfx export`: fine-tuning data (sft, dpo, openai-dpo, spin) from a benchmark run or the episode store.

The selection and record shapes live in app/benchmark/export.py; this module only reads the arguments,
loads the episodes and writes the file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from app.errors import InvalidInput


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `rfx` app."""
    app.command("export")(export)


def export(
    out: Annotated[Path, typer.Option("--out", help="Output file (JSON lines).")],
    fmt: Annotated[str, typer.Option("--format", help="sft | dpo | openai-dpo | spin")] = "sft",
    from_dir: Annotated[
        Path | None, typer.Option("--from", help="A `rfx bench` output directory (reads episodes.jsonl).")
    ] = None,
    episodes_query: Annotated[
        str | None,
        typer.Option(
            "--episodes",
            help="Episodes in the service's store: `all` or filters such as "
            "`status=succeeded,strategy=reflexion,task=HumanEval/*,limit=500`.",
        ),
    ] = None,
    tenant: Annotated[
        str, typer.Option("--tenant", help="Tenant whose episodes --episodes reads.")
    ] = "default",
) -> None:
    """Write self-training data: SFT on hidden-test passes, preference pairs, SPIN pairs."""
    from app.benchmark.export import FORMATS, records, write_jsonl
    from app.benchmark.store import read_episodes_dir
    from app.prompts import FilePromptBook

    if fmt not in FORMATS:
        raise InvalidInput(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if (from_dir is None) == (episodes_query is None):
        raise InvalidInput("give exactly one of --from DIR or --episodes QUERY")
    if from_dir is not None:
        episodes = read_episodes_dir(from_dir)
        source = str(from_dir)
    else:
        from app.benchmark.episode_query import parse_query, query_episodes
        from app.settings import get_settings

        query = parse_query(episodes_query or "")
        episodes = asyncio.run(query_episodes(get_settings(), tenant, query))
        source = f"the episode store (tenant {tenant})"
    rows = records(episodes, fmt, FilePromptBook())
    write_jsonl(out, rows)
    typer.echo(f"wrote {len(rows)} {fmt} records from {len(episodes)} episodes in {source} to {out}")
