"""`rfx bench humaneval` on 20 HumanEval problems with scripted outcomes gives exactly the expected figures.

Everything is real except the model: the `rfx` process, the Docker sandbox judging every attempt on
the visible and the hidden tests, and the fake OpenAI-compatible server over HTTP, scripted per
problem and per prompt kind. Correct answers are HumanEval's canonical solutions; wrong ones return
None; "overfit" ones look up the docstring examples, so they pass the visible tests and fail the
hidden ones (false positives). The expected figures below are worked out by hand from that script.

The run uses --concurrency 1: single and best_of_n's samples share one prompt per problem, so their
replies come from one sequence consumed in the runner's documented order (problem by problem, single
first, then the strategies in the order given); reflexion's first trial is single's reply, replayed.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest

from app.benchmark.datasets import load_benchmark
from app.benchmark.export import SCHEMAS, normalize, prompt_messages
from app.prompts import FilePromptBook
from app.reflexion.models import Episode, Task
from tests.fixtures.llm import (
    REFLECTION_PROMPT,
    FakeLLMServer,
    actor_prompt,
    fence,
    first_prompt,
    retry_prompt,
)

IDS = [f"HumanEval/{i}" for i in (0, 1, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21)]
STRATEGIES = "reflexion,self_refine,best_of_n,single"
RFX = str(Path(sys.executable).parent / "rfx")
LESSON = "The last attempt returned the wrong value; follow the docstring examples exactly."
CHANGE = "The implementation ignores the task: it must compute the documented result."

# Per problem index: reflexion's trials, self_refine's (answers, critiques), best_of_n's samples, single.
# C = canonical solution, W = wrong, O = overfit to the visible examples.
REFLEXION = ["C"] * 8 + ["WC"] * 4 + ["WWC"] * 2 + ["WWW"] * 3 + ["O"] * 3
SELF_REFINE = (
    [("C", ["NO CHANGE NEEDED"])] * 10
    + [("CW", [CHANGE, "NO CHANGE NEEDED"])] * 4
    + [("WC", [CHANGE, "NO CHANGE NEEDED"])] * 2
    + [("WWW", [CHANGE])] * 4
)
BEST_OF_N = ["CCC"] * 6 + ["WCC"] * 4 + ["WWC"] * 4 + ["WWW"] * 6
SINGLE = [trials[0] for trials in REFLEXION]  # replayed into reflexion's first trial


def canonical(task: Task) -> str:
    assert task.canonical_solution
    return task.prompt + task.canonical_solution


def wrong(task: Task) -> str:
    return task.prompt + "    return None\n"


def overfit(task: Task) -> str:
    """Answers exactly the docstring examples (the visible tests) and nothing else."""
    table: dict[str, Any] = {}
    for line in task.visible_tests:
        node = ast.parse(line).body[0]
        assert isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)
        call = node.test.left
        assert isinstance(call, ast.Call)
        args = tuple(ast.literal_eval(a) for a in call.args)
        table[repr(args)] = ast.literal_eval(node.test.comparators[0])
    fn = ast.parse(task.prompt + "    pass\n").body[-1]
    assert isinstance(fn, ast.FunctionDef) and fn.name == task.entry_point
    params = ", ".join(a.arg for a in fn.args.args)
    return task.prompt + f"    return {table!r}.get(repr(({params},)))\n"


def code(task: Task, kind: str) -> str:
    return {"C": canonical, "W": wrong, "O": overfit}[kind](task)


def rules_for(i: int, task: Task) -> list[dict[str, Any]]:
    assert task.entry_point
    head = actor_prompt(task.entry_point)
    sr_answers, critiques = SELF_REFINE[i]
    # one sequence for every prompt that shows the tests first: single (and so reflexion), 3 samples
    shared = [SINGLE[i], *BEST_OF_N[i]]
    rules = [
        {
            "pattern": first_prompt(task.entry_point),
            "replies": [fence(code(task, k)) for k in shared],
        },
        {
            "pattern": retry_prompt(task.entry_point),
            "replies": [fence(code(task, k)) for k in REFLEXION[i][1:] or "C"],
        },
        {
            "pattern": head + r"(?!.*Your previous implementation)(?!.*It must pass these tests)",
            "replies": [fence(code(task, sr_answers[0]))],
        },
        {
            "pattern": head + r".*Review of that implementation",
            "replies": [fence(code(task, k)) for k in sr_answers[1:] or "C"],
        },
        {
            "pattern": rf"^Review this implementation of the Python function `{task.entry_point}`\.",
            "replies": critiques,
        },
    ]
    return rules


def approx(value: Fraction | float) -> Any:
    return pytest.approx(float(value), abs=1e-12)


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return load_benchmark(ids=IDS)


@pytest.fixture(scope="module")
def bench_run(
    tmp_path_factory: pytest.TempPathFactory,
    fake_llm_session: FakeLLMServer,
    tasks: list[Task],
    sandbox_image: str,
) -> Iterator[tuple[Path, int]]:
    """Run the benchmark once for this module: (output directory, number of model requests)."""
    fake = fake_llm_session
    fake.reset()
    rules = [r for i, t in enumerate(tasks) for r in rules_for(i, t)]
    rules.append({"pattern": REFLECTION_PROMPT, "replies": [LESSON]})
    fake.script(*rules, default="(unscripted request)")
    out = tmp_path_factory.mktemp("bench") / "run"
    argv = [
        RFX,
        "bench",
        "humaneval",
        "--ids",
        ",".join(IDS),
        "--strategy",
        STRATEGIES,
        "--retries",
        "greedy",  # the scripted trials repeat programs; sampled retries are tested apart
        "--max-trials",
        "3",
        "--samples",
        "3",
        "--concurrency",
        "1",
        "--out",
        str(out),
        "--model",
        "gpt-4o-mini",
        "--base-url",
        fake.base_url,
        "--api-key",
        "fake-key",
    ]
    env = {**os.environ, "RFX_JUDGE_IMAGE": sandbox_image, "RFX_JUDGE_WORKERS": "2"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "report:" in done.stdout
    requests = len(fake.requests)
    unscripted = [r.last_user[:120] for r in fake.requests if r.rule is None]
    batched = [r.params.get("n") for r in fake.requests if r.params.get("n", 1) != 1]
    fake.reset()
    assert unscripted == []
    assert batched == []  # every sample is its own request
    yield out, requests


@pytest.mark.timeout(900)
def test_report_json_holds_exactly_the_expected_figures(bench_run: tuple[Path, int]) -> None:
    out, requests = bench_run
    report = json.loads((out / "report.json").read_text())
    s = report["strategies"]
    assert list(s) == ["reflexion", "self_refine", "best_of_n", "single"]
    for name in s:
        assert s[name]["problems"] == 20

    r = s["reflexion"]
    assert r["accuracy_by_trial"] == [approx(Fraction(k, 20)) for k in (8, 12, 14)]
    assert r["pass@1"] == approx(Fraction(8, 20)) and "pass@2" not in r
    assert (r["solved"], r["accuracy"]) == (14, approx(0.7))
    assert r["flips"] == {"wrong_to_right": 6, "right_to_wrong": 0, "right_to_right": 8, "wrong_to_wrong": 6}
    assert r["false_positives"]["by_feedback"] == {
        "visible": {"attempts_feedback_passed": 17, "attempts": 3, "episodes_solved": 17, "episodes": 3}
    }
    assert r["attempts"] == 34 and r["stop_reasons"] == {"solved": 17, "max_trials": 3}

    sr = s["self_refine"]
    assert sr["accuracy_by_trial"] == [approx(0.7), approx(0.6), approx(0.6)]
    assert sr["pass@1"] == approx(0.7) and sr["solved"] == 12
    assert sr["flips"] == {
        "wrong_to_right": 2,
        "right_to_wrong": 4,
        "right_to_right": 10,
        "wrong_to_wrong": 4,
    }
    assert sr["false_positives"]["by_feedback"] == {
        "none": {"attempts_feedback_passed": 0, "attempts": 0, "episodes_solved": 16, "episodes": 4}
    }
    assert sr["attempts"] == 10 + 4 * 2 + 2 * 2 + 4 * 3

    b = s["best_of_n"]
    # c per problem: 3 (x6), 2 (x4), 1 (x4), 0 (x6), n = 3
    assert b["pass@1"] == approx((6 * 1 + 4 * Fraction(2, 3) + 4 * Fraction(1, 3)) / 20)
    assert b["pass@2"] == approx((6 * 1 + 4 * 1 + 4 * (1 - Fraction(1, 3))) / 20)
    assert b["pass@3"] == approx(Fraction(14, 20))
    assert b["pass_at_k_problems"] == {"pass@1": 20, "pass@2": 20, "pass@3": 20}
    assert b["accuracy_by_trial"] == [approx(0.3), approx(0.5), approx(0.7)]
    assert b["flips"] == {"wrong_to_right": 8, "right_to_wrong": 0, "right_to_right": 6, "wrong_to_wrong": 6}
    assert b["attempts"] == 60 and b["false_positives"]["attempts"] == 0

    one = s["single"]
    assert (one["accuracy_by_trial"], one["pass@1"], one["solved"]) == ([0.4], 0.4, 8)
    assert one["flips"] == {
        "wrong_to_right": 0,
        "right_to_wrong": 0,
        "right_to_right": 8,
        "wrong_to_wrong": 12,
    }

    # model requests: actor attempts (reflexion's first ones replayed) + reflections + critiques
    reflections = 4 * 1 + 2 * 2 + 3 * 2
    critiques = 10 + 4 * 2 + 2 * 2 + 4 * 2
    assert requests == (34 - 20) + reflections + 34 + critiques + 60 + 20

    # tokens and cost come from the stored attempts: the rows add up to them
    rows = report["rows"]
    assert len(rows) == 34 + 34 + 60 + 20
    for name, fig in s.items():
        mine = [row for row in rows if row["strategy"] == name]
        tokens = sum(row["prompt_tokens"] + row["completion_tokens"] for row in mine)
        cost = sum(row["prompt_tokens"] * 0.15 + row["completion_tokens"] * 0.60 for row in mine) / 1e6
        assert fig["tokens"] == tokens > 0
        assert fig["cost_usd"] == pytest.approx(cost, rel=1e-9) and cost > 0
        assert fig["tokens_per_solved"] == approx(Fraction(tokens, fig["solved"]))
        assert fig["wall_s"] > 0 and fig["wall_s_per_solved"] == approx(fig["wall_s"] / fig["solved"])
        assert sum(row["is_final"] for row in mine) == 20
    assert report["run"]["complete"] is True and report["run"]["budget"]["exceeded"] is False


@pytest.mark.timeout(900)
def test_report_md_shows_the_figures_and_the_plots(bench_run: tuple[Path, int]) -> None:
    out, _ = bench_run
    md = (out / "report.md").read_text()
    assert "| reflexion | 20 | 14 | 70.0% | 40.0% | - | - |" in md
    assert "| self_refine | 20 | 12 | 60.0% | 70.0% | - | - |" in md
    assert "| best_of_n | 20 | 14 | 70.0% | 50.0% | 63.3% | 70.0% |" in md
    assert "| reflexion | 40.0% | 60.0% | 70.0% |" in md
    assert "| self_refine | 70.0% | 60.0% | 60.0% |" in md
    assert "| self_refine | 2 | 4 | 10 | 4 |" in md  # flips: 4 broken by self-refinement
    assert "| reflexion | visible | 3 / 17 | 3 / 17 |" in md
    for png in ("accuracy_by_trial.png", "flips.png"):
        assert f"]({png})" in md
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.image.imread(out / png).shape[:2] == (400, 640)


@pytest.mark.timeout(900)
def test_report_compares_against_single_at_equal_budget(bench_run: tuple[Path, int]) -> None:
    out, _ = bench_run
    report = json.loads((out / "report.json").read_text())
    per = report["comparison"]["strategies"]
    # single: C on problems 0-7; reflexion right on 0-13 (C, WC, WWC), wrong on WWW and O
    assert per["reflexion"]["vs_single"] == {
        "problems": 20,
        "gained": 6,
        "lost": 0,
        "both_right": 8,
        "both_wrong": 6,
        "p_value": 0.03125,  # exact: 2 * (1/2)^6
    }
    assert per["reflexion"]["first_attempts"] == {"problems": 20, "replayed": 20, "equal": 20}
    assert per["single"]["vs_single"] is None
    # greedy retries: every repeated W is judged again and counted as a duplicate of trial 1
    assert per["reflexion"]["draws"] | {"duplicate_rate": None} == {
        "retries": 14,
        "duplicates": 8,
        "draws": 34,
        "resamples": 0,
        "stuck": 0,
        "duplicate_rate": None,
        "resample_rate": 0.0,
    }
    assert per["reflexion"]["draws"]["duplicate_rate"] == approx(Fraction(8, 14))
    fixed = per["reflexion"]["errors_fixed"]
    assert (
        sum(k["first_wrong"] for k in fixed.values()) == 12 and sum(k["fixed"] for k in fixed.values()) == 6
    )
    strategies = report["strategies"]
    for name, figures in per.items():
        assert figures["tokens_per_problem"] == approx(Fraction(strategies[name]["tokens"], 20))
        assert figures["token_curve"][-1][1] == approx(strategies[name]["accuracy"])
    md = (out / "report.md").read_text()
    assert "| reflexion | 20 | 6 | 0 | 8 | 6 | 0.0312 | 20 / 20 (20) |" in md
    assert (out / "accuracy_vs_cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def episodes_of(out: Path) -> list[Episode]:
    return [Episode.model_validate_json(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("fmt", "count"), [("sft", 16), ("dpo", 10), ("openai-dpo", 10), ("spin", 17)])
def test_exports_validate_and_match_hidden_verdicts(
    bench_run: tuple[Path, int], tasks: list[Task], tmp_path: Path, fmt: str, count: int
) -> None:
    out, _ = bench_run
    target = tmp_path / f"{fmt}.jsonl"
    done = subprocess.run(
        [RFX, "export", "--from", str(out), "--format", fmt, "--out", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(records) == count
    for record in records:
        SCHEMAS[fmt].model_validate(record)  # type: ignore[index]

    prompts = FilePromptBook()
    task_by_prompt = {json.dumps([m.model_dump() for m in prompt_messages(t, prompts)]): t for t in tasks}
    verdicts: dict[tuple[str, str], set[bool]] = {}
    for ep in episodes_of(out):
        for a in ep.attempts:
            if a.code and a.hidden is not None:
                verdicts.setdefault((ep.task.id, normalize(a.code)), set()).add(a.hidden.passed)

    def label(prompt: list[dict[str, str]], answer: dict[str, str]) -> bool:
        task = task_by_prompt[json.dumps(prompt)]
        body = answer["content"].removeprefix("```python\n").removesuffix("\n```")
        found = verdicts[(task.id, body)]
        assert len(found) == 1  # one code, one hidden verdict
        return found.pop()

    seen = set()
    for rec in records:
        if fmt == "sft":
            assert label(rec["messages"][:2], rec["messages"][2]) is True
            key = json.dumps(rec)
        elif fmt == "dpo":
            assert label(rec["prompt"], rec["chosen"][0]) is True
            assert label(rec["prompt"], rec["rejected"][0]) is False
            key = json.dumps(rec)
        elif fmt == "openai-dpo":
            assert label(rec["input"]["messages"], rec["preferred_output"][0]) is True
            assert label(rec["input"]["messages"], rec["non_preferred_output"][0]) is False
            key = json.dumps(rec)
        else:
            task = task_by_prompt[json.dumps(rec["prompt"])]
            assert rec["real"][-1]["content"] == f"```python\n{normalize(canonical(task))}\n```"
            assert label(rec["prompt"], rec["generated"][-1]) is False
            key = json.dumps(rec)
        assert key not in seen
        seen.add(key)
