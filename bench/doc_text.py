"""Markdown pieces shared by the generators of the docs' figures (report_docs.py, heldout_docs.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Json = dict[str, Any]
TIMES, DASH = "\u00d7", "\u2013"  # the multiplication sign of a ratio, the en dash of a range


def pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def flips(figures: Json) -> str:
    """A run's flips against single with the exact McNemar p-value, or a dash for single itself."""
    f = figures.get("vs_single")
    return f"+{f['gained']}/{DASH}{f['lost']}, p {f['p_value']:.2g}" if f else DASH


def splice(readme: str, block: str, begin: str, end: str) -> str:
    """The README with the text between the markers (markers included) replaced by `block`."""
    start, stop = readme.find(begin), readme.find(end)
    if start < 0 or stop < start:
        raise SystemExit(f"README.md: the markers {begin!r} ... {end!r} are missing")
    return readme[:start] + block + readme[stop + len(end) :]
