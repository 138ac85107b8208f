"""Extraction over all 164 HumanEval problems, with the canonical solution dressed as model replies.

Each shape a model uses (a full module in a fence with prose, a bare body, a fenced body, the
function alone) must come back as the same program the canonical solution is, compared as ASTs:
nothing is executed here.
"""

from __future__ import annotations

import ast

import pytest

from app.benchmark.datasets import load_problems
from app.reflexion.codegen import complete_solution, extract_code
from app.reflexion.models import Task

TASKS = load_problems()


def same_program(left: str | None, right: str) -> bool:
    return left is not None and ast.dump(ast.parse(left)) == ast.dump(ast.parse(right))


def reference(task: Task) -> str:
    assert task.canonical_solution is not None
    return task.prompt + task.canonical_solution


def function_only(task: Task) -> str:
    source = reference(task)
    tree = ast.parse(source)
    [node] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == task.entry_point]
    return "\n".join(source.split("\n")[node.lineno - 1 : node.end_lineno])


def test_all_problems_are_loaded() -> None:
    assert len(TASKS) == 164


def dressed(task: Task, shape: str) -> str:
    """The canonical solution as a model might have sent it."""
    body = task.canonical_solution or ""
    return {
        "fenced-module": f"Here you go:\n```python\n{reference(task)}\n```\nHope it helps.",
        "bare-body": body,
        "fenced-body": f"```python\n{body}```",
    }[shape]


@pytest.mark.parametrize("shape", ["fenced-module", "bare-body", "fenced-body"])
def test_every_canonical_solution_survives_extraction(shape: str) -> None:
    failures = [
        t.id
        for t in TASKS
        if not same_program(extract_code(dressed(t, shape), t.entry_point, t.prompt), reference(t))
    ]
    assert failures == []


def test_function_alone_becomes_a_complete_module() -> None:
    failures = []
    for task in TASKS:
        code = extract_code(f"```python\n{function_only(task)}\n```", task.entry_point, task.prompt)
        assert code is not None
        module = ast.parse(complete_solution(task.prompt, code, task.entry_point))
        wanted = ast.parse(reference(task))
        names = {ast.unparse(n) for n in module.body if not isinstance(n, ast.FunctionDef)}
        wanted_names = {ast.unparse(n) for n in wanted.body if not isinstance(n, ast.FunctionDef)}
        functions = {n.name for n in module.body if isinstance(n, ast.FunctionDef)}
        wanted_functions = {n.name for n in wanted.body if isinstance(n, ast.FunctionDef)}
        if not wanted_names <= names or functions != wanted_functions:
            failures.append(task.id)
    assert failures == []
