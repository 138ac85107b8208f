"""Export records: documented schemas, labels that match the hidden verdicts, deduplication, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.benchmark.export import SCHEMAS, collect, normalize, records, reference_solution
from app.benchmark.store import EpisodeLog
from app.cli import main
from app.prompts import FilePromptBook
from app.reflexion.models import Attempt, Episode, EpisodeConfig, Task, Verdict

TASK = Task(
    id="T/0",
    prompt='def inc(x):\n    """Add one."""\n',
    entry_point="inc",
    tests="def check(c):\n    assert c(1) == 2\n",
    canonical_solution="    return x + 1\n",
)
RIGHT_A = 'def inc(x):\n    """Add one."""\n    return x + 1\n'
RIGHT_B = "def inc(x):\n    return 1 + x\n"
WRONG_A = "def inc(x):\n    return x\n"
WRONG_B = "def inc(x):\n    return x - 1\n"


def attempt(trial: int, code: str, passed: bool | None) -> Attempt:
    hidden = None if passed is None else Verdict(status="passed" if passed else "failed")
    return Attempt(trial=trial, code=code, hidden=hidden)


def episodes() -> list[Episode]:
    other = TASK.model_copy(update={"id": "T/1", "canonical_solution": None})
    return [
        Episode(
            id="e1",
            task=TASK,
            config=EpisodeConfig(strategy="reflexion"),
            status="succeeded",
            attempts=[attempt(1, WRONG_A, False), attempt(2, RIGHT_A, True)],
        ),
        Episode(
            id="e2",
            task=TASK,
            config=EpisodeConfig(strategy="best_of_n"),
            status="succeeded",
            attempts=[
                attempt(1, RIGHT_A + "   \n", True),
                attempt(2, WRONG_B, False),
                attempt(3, RIGHT_B, True),
                attempt(4, WRONG_A, False),
                attempt(5, "", False),
                attempt(6, "def inc(x): pass", None),
            ],
        ),
        Episode(
            id="e3",
            task=other,
            config=EpisodeConfig(strategy="single"),
            status="failed",
            attempts=[attempt(1, WRONG_A, False)],
        ),
    ]


def code_of(message: dict[str, str]) -> str:
    content = message["content"]
    assert message["role"] == "assistant" and content.startswith("```python\n") and content.endswith("\n```")
    return content[len("```python\n") : -len("\n```")]


def hidden_of(eps: list[Episode]) -> dict[tuple[str, str], bool]:
    """(task prompt text, normalized code) -> hidden verdict, for every graded attempt."""
    return {
        (e.task.id, normalize(a.code)): a.hidden.passed
        for e in eps
        for a in e.attempts
        if a.hidden is not None and a.code
    }


def task_of(prompt: list[dict[str, str]]) -> str:
    user = prompt[-1]["content"]
    return "T/0" if "Add one." in user and "T/1" not in user else "?"


def test_collect_deduplicates_and_drops_ungraded_or_empty_attempts() -> None:
    (t0, t1) = collect(episodes())
    assert t0.passed == [normalize(RIGHT_A), normalize(RIGHT_B)]
    assert t0.failed == [normalize(WRONG_A), normalize(WRONG_B)]
    assert (t1.passed, t1.failed) == ([], [normalize(WRONG_A)])


@pytest.mark.parametrize("fmt", ["sft", "dpo", "openai-dpo", "spin"])
def test_records_validate_and_labels_match_hidden_verdicts(fmt: str, tmp_path: Path) -> None:
    eps = episodes()
    log = EpisodeLog(tmp_path / "run")
    for ep in eps:
        log.append(ep)
    out = tmp_path / f"{fmt}.jsonl"
    main(["export", "--from", str(tmp_path / "run"), "--format", fmt, "--out", str(out)])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    for line in lines:
        SCHEMAS[fmt].model_validate(line)  # extra keys are refused by the schema
    verdicts = hidden_of(eps)
    prompt = [m.model_dump() for m in records(eps, "sft", FilePromptBook())[0].messages[:2]]  # type: ignore[attr-defined]
    assert prompt[0]["role"] == "system" and "def inc(x):" in prompt[1]["content"]
    reference = reference_solution(TASK)

    if fmt == "sft":
        assert [code_of(r["messages"][-1]) for r in lines] == [normalize(RIGHT_A), normalize(RIGHT_B)]
        assert all(r["messages"][:2] == prompt for r in lines)
        assert all(verdicts[("T/0", code_of(r["messages"][-1]))] for r in lines)
    elif fmt == "dpo":
        pairs = [(code_of(r["chosen"][0]), code_of(r["rejected"][0])) for r in lines]
        assert pairs == [(normalize(RIGHT_A), normalize(WRONG_A)), (normalize(RIGHT_B), normalize(WRONG_B))]
        assert all(r["prompt"] == prompt for r in lines)
        assert all(verdicts[("T/0", c)] and not verdicts[("T/0", r)] for c, r in pairs)
    elif fmt == "openai-dpo":
        pairs = [(code_of(r["preferred_output"][0]), code_of(r["non_preferred_output"][0])) for r in lines]
        assert pairs == [(normalize(RIGHT_A), normalize(WRONG_A)), (normalize(RIGHT_B), normalize(WRONG_B))]
        assert all(r["input"]["messages"] == prompt for r in lines)
    else:  # spin: reference as real, failing attempts as generated; T/1 has no reference
        assert [code_of(r["generated"][-1]) for r in lines] == [normalize(WRONG_A), normalize(WRONG_B)]
        assert all(code_of(r["real"][-1]) == reference for r in lines)
        assert all(r["real"][:2] == prompt == r["prompt"] and r["chosen"] == r["real"][-1:] for r in lines)
        assert all(not verdicts[("T/0", code_of(r["generated"][-1]))] for r in lines)


def test_no_pairs_without_a_passing_attempt(tmp_path: Path) -> None:
    only_wrong = [episodes()[2]]
    assert records(only_wrong, "dpo", FilePromptBook()) == []
    assert records(only_wrong, "sft", FilePromptBook()) == []


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in [
        (["export", "--out", str(tmp_path / "x.jsonl")], "exactly one of --from DIR or --episodes"),
        (["export", "--out", str(tmp_path / "x.jsonl"), "--from", str(tmp_path)], "not a benchmark run"),
        (
            ["export", "--out", str(tmp_path / "x.jsonl"), "--from", str(tmp_path), "--format", "csv"],
            "--format must be one of",
        ),
        (["export", "--out", str(tmp_path / "x.jsonl"), "--episodes", "color=red"], "unknown filter"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.jsonl").exists()
