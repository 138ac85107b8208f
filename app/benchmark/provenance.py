"""Which code a benchmark run ran: the git commit of the checkout, per process that worked on it.

Why: a resumable run can span sessions and commits, and a held-out measurement must say the one
commit it was frozen at. Each `rfx bench humaneval` process appends the commit it runs (and whether
the files that decide behaviour differed from it) to DIR/provenance.jsonl before it starts; the report
lists every distinct one, so a run that changed code midway shows it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

PROVENANCE_FILE = "provenance.jsonl"
BEHAVIOUR = ("app", "prompts", "sandbox", "pyproject.toml", "requirements")
ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def current_code() -> dict[str, Any]:
    """The checkout's commit and whether the behaviour-deciding files differ from it (None outside git)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "modified": None}
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", *BEHAVIOUR)
    return {"commit": commit, "modified": bool(changed)}


def record(directory: Path, started_at: str) -> list[dict[str, Any]]:
    """Append this process's code to the run's provenance; return every distinct entry so far."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PROVENANCE_FILE
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({**current_code(), "started_at": started_at}) + "\n")
    return read(directory)


def read(directory: Path) -> list[dict[str, Any]]:
    path = directory / PROVENANCE_FILE
    seen: dict[tuple[Any, Any], dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            seen.setdefault((entry.get("commit"), entry.get("modified")), entry)
    return list(seen.values())
