"""A run's provenance: the commit each process ran, listed once per distinct (commit, modified)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.benchmark import provenance


def test_each_process_is_recorded_and_listed_once_per_distinct_code(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    first = provenance.record(tmp_path, "2026-12-04T00:00:00")
    again = provenance.record(tmp_path, "2026-12-04T01:00:00")  # a resumed run on the same code
    assert [e["commit"] for e in first] == [e["commit"] for e in again] == [head]
    assert again[0]["started_at"] == "2026-12-04T00:00:00"
    path = tmp_path / provenance.PROVENANCE_FILE
    path.write_text(path.read_text() + '{"commit": "0123", "modified": true}\n{"torn')
    assert [(e["commit"], e["modified"]) for e in provenance.read(tmp_path)][1:] == [("0123", True)]
    assert provenance.read(tmp_path / "nothing") == []


def _commit(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True, capture_output=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True, capture_output=True)


def test_the_behaviour_digest_follows_the_behaviour_files_and_not_the_commit(tmp_path: Path) -> None:
    """Results, tests and the reporting modules can be committed during a frozen run; a prompt or the
    runner cannot without the digest (and so the report) showing it."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _commit(tmp_path, {"app/run.py": "a", "prompts/actor.md": "p", "app/benchmark/report.py": "r"})
    frozen = provenance.current_code(tmp_path)
    assert frozen["modified"] is False and frozen["behaviour"]
    _commit(tmp_path, {"bench/results.jsonl": "{}", "tests/test_x.py": "t", "app/benchmark/report.py": "r2"})
    later = provenance.current_code(tmp_path)
    assert later["commit"] != frozen["commit"]
    assert later["behaviour"] == frozen["behaviour"]
    (tmp_path / "app/benchmark/report.py").write_text("improved while the run goes on")
    assert provenance.current_code(tmp_path)["modified"] is False  # a report can improve uncommitted
    _commit(tmp_path, {})
    (tmp_path / "prompts/actor.md").write_text("changed")
    assert provenance.current_code(tmp_path)["modified"] is True
    _commit(tmp_path, {})
    assert provenance.current_code(tmp_path)["behaviour"] != frozen["behaviour"]
    outside = provenance.current_code(tmp_path / "missing")
    assert outside == {"commit": None, "behaviour": None, "modified": None}
