"""Which code a benchmark run ran: per process that worked on it, the commit and the behaviour digest.

Why: a resumable run can span sessions and commits (its own results get committed as they finish), and
a held-out measurement must say the one version of the code it was frozen at. What decides a run's
outcome is the behaviour files, not the commit: the digest is git's object ids of those files at
HEAD, so a commit that only adds results, tests or docs keeps it, and one that touches a prompt or the
judge changes it. The reporting modules read finished episodes and decide nothing a run does, so they
stay outside it and a report can improve while the run goes on. Each `rfx bench humaneval` process
appends its entry to DIR/provenance.jsonl before it starts; the report lists every distinct one.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROVENANCE_FILE = "provenance.jsonl"
BEHAVIOUR = ("app", "prompts", "sandbox", "pyproject.toml", "requirements")
REPORTING = (
    "app/benchmark/report.py",
    "app/benchmark/markdown.py",
    "app/benchmark/plots.py",
    "app/benchmark/variants.py",
    "app/reflexion/comparison.py",
    "app/reflexion/metrics.py",
)
ROOT = Path(__file__).resolve().parents[2]


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _without_reporting(lines: str, path_of: Callable[[str], str]) -> list[str]:
    """The lines of a git listing but the reporting modules' (`path_of` reads a line's path)."""
    return [line for line in lines.splitlines() if path_of(line) not in REPORTING]


def _tree_path(line: str) -> str:
    """`git ls-tree -r`: "mode type id<TAB>path"."""
    return line.split("\t", 1)[-1]


def _status_path(line: str) -> str:
    """`git status --porcelain`: "XY path", or "XY old -> new" for a rename (the first line may have
    lost a leading space of its status to the output's strip)."""
    return line.split(maxsplit=1)[-1].split(" -> ")[-1]


def current_code(root: Path = ROOT) -> dict[str, Any]:
    """The checkout's commit, its behaviour digest, and whether the behaviour files differ from HEAD
    (all None outside git)."""
    commit = _git(root, "rev-parse", "HEAD")
    listing = _git(root, "ls-tree", "-r", "HEAD", "--", *BEHAVIOUR)
    if commit is None or listing is None:
        return {"commit": None, "behaviour": None, "modified": None}
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *BEHAVIOUR)
    behaviour = "\n".join(_without_reporting(listing, _tree_path))
    return {
        "commit": commit,
        "behaviour": hashlib.sha256(behaviour.encode()).hexdigest(),
        "modified": bool(_without_reporting(status or "", _status_path)),
    }


def record(directory: Path, started_at: str) -> list[dict[str, Any]]:
    """Append this process's code to the run's provenance; return every distinct entry so far."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PROVENANCE_FILE
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({**current_code(), "started_at": started_at}) + "\n")
    return read(directory)


def read(directory: Path) -> list[dict[str, Any]]:
    """The distinct (commit, behaviour, modified) entries of a run, first seen first."""
    path = directory / PROVENANCE_FILE
    seen: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            seen.setdefault((entry.get("commit"), entry.get("behaviour"), entry.get("modified")), entry)
    return list(seen.values())


def main() -> int:
    """`python -m app.benchmark.provenance`: exit 1 when the behaviour files differ from HEAD, so a
    frozen run (bench/real_model/heldout.sh) refuses to start on them; prints the digest otherwise."""
    code = current_code()
    if code["commit"] is None:
        print("not a git checkout: a frozen run needs one")
        return 1
    if code["modified"]:
        print("the behaviour files (app/ but for reporting, prompts/, sandbox/, the lock) differ from HEAD")
        return 1
    print(code["behaviour"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
