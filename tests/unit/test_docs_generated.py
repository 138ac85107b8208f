"""The README's performance summary and docs/performance.md are generated from the committed bench
results (bench/report_docs.py), so a figure is never typed by hand and cannot drift from its file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import report_docs

ROOT = report_docs.ROOT
TIMES = report_docs.TIMES


def test_committed_readme_and_performance_doc_match_the_results() -> None:
    for path, expected in report_docs.outputs(ROOT).items():
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.relative_to(ROOT)} differs from what bench/report_docs.py makes of the committed "
            "results: run .venv/bin/python bench/report_docs.py"
        )


def test_the_summary_has_at_most_eight_rows_each_with_a_baseline_and_a_command() -> None:
    rows = report_docs.summary(report_docs.Results.read(ROOT))
    assert 1 <= len(rows) <= 8
    for row in rows:
        assert TIMES in row.figure, row
        assert row.baseline.strip(), row
        assert row.command.startswith("`") and row.command.endswith("`"), row


@pytest.fixture
def copy_of_the_tree(tmp_path: Path) -> Path:
    """README.md, docs/ and the results the generator reads, in a scratch tree it may rewrite."""
    for name in ("README.md", "docs/performance.md", "bench/results", "bench/real_model/overhead.json"):
        source, target = ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    tuning = tmp_path / report_docs.TUNING
    tuning.mkdir(parents=True)
    for name in ("report.json", "chosen.json"):
        if (ROOT / report_docs.TUNING / name).exists():
            shutil.copy(ROOT / report_docs.TUNING / name, tuning / name)
    return tmp_path


def test_a_new_result_reaches_the_readme_and_the_doc_only_through_the_script(copy_of_the_tree: Path) -> None:
    results = copy_of_the_tree / "bench/results/judge-runc.json"
    data = json.loads(results.read_text())
    data["runs"][0]["ratio"] = 0.123456
    results.write_text(json.dumps(data))
    script = [sys.executable, str(ROOT / "bench/report_docs.py"), "--root", str(copy_of_the_tree)]

    stale = subprocess.run([*script, "--check"], capture_output=True, text=True, timeout=60)
    assert stale.returncode == 1
    assert "README.md: out of date" in stale.stderr and "docs/performance.md: out of date" in stale.stderr

    assert subprocess.run(script, capture_output=True, text=True, timeout=60).returncode == 0
    assert f"**0.12{TIMES}**" in (copy_of_the_tree / "README.md").read_text()
    doc = (copy_of_the_tree / "docs/performance.md").read_text()
    assert f"| pooled runc | 164/164 | 2.58 s | 0.12{TIMES} |" in doc
    fresh = subprocess.run([*script, "--check"], capture_output=True, text=True, timeout=60)
    assert fresh.returncode == 0, fresh.stderr


def test_a_readme_without_the_markers_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(SystemExit, match="markers"):
        report_docs.splice(
            "# a README with no summary markers\n", "table", report_docs.BEGIN, report_docs.END
        )


def test_the_chosen_variant_reaches_the_readme_once_named(copy_of_the_tree: Path) -> None:
    report = json.loads((copy_of_the_tree / report_docs.TUNING / "report.json").read_text())
    label = next(name for name, v in report["run"]["variants"].items() if v["strategy"] == "reflexion")
    chosen = {"variant": label, "rule": "the stated rule"}
    (copy_of_the_tree / report_docs.TUNING / "chosen.json").write_text(json.dumps(chosen))
    script = [sys.executable, str(ROOT / "bench/report_docs.py"), "--root", str(copy_of_the_tree)]
    assert subprocess.run(script, capture_output=True, text=True, timeout=60).returncode == 0
    assert f"chosen `{label}`" in (copy_of_the_tree / "README.md").read_text()
    assert (
        f"The variant taken to the held-out run is `{label}`"
        in (copy_of_the_tree / "docs/performance.md").read_text()
    )
