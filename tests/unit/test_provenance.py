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
