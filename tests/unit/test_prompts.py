"""Prompt templates: every one renders with the variables the loop passes, strictly, with a version."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ConfigError
from app.paths import prompts_dir
from app.prompts import FilePromptBook, default_prompt_book
from app.reflexion.conversation import Conversation
from app.reflexion.models import Task

TASK = Task(id="t", prompt='def add(a, b):\n    """Sum."""\n', entry_point="add", tests="def check(c): pass")


def test_every_template_file_is_used_by_the_conversation() -> None:
    versions: dict[str, str] = {}
    conv = Conversation(default_prompt_book(), versions, "answer in one line")
    conv.actor_initial(TASK, ["assert add(1, 1) == 2"], ["a lesson"])
    conv.actor_retry(TASK, [], "def add(a, b): ...", "1 of 2 tests passed.", [])
    conv.actor_retry(TASK, [], None, "1 of 2 tests passed.", [])
    conv.reflect(TASK, "def add(a, b): ...", "All tests passed.")
    asked = conv.write_tests(TASK, 5)
    again = conv.write_tests_again(TASK, 5, asked, "no tests here")
    assert [m.role for m in again] == ["system", "user", "assistant", "user"]
    assert "add" in again[-1].content and "{{" not in again[-1].content
    conv.critique(TASK, "def add(a, b): ...")
    conv.revise(TASK, "def add(a, b): ...", "it subtracts")
    on_disk = {str(p.relative_to(prompts_dir()).with_suffix("")) for p in prompts_dir().rglob("*.md")}
    assert set(versions) == on_disk
    assert all(len(v) == 12 for v in versions.values())


def test_initial_prompt_lists_tests_and_lessons_only_when_given() -> None:
    conv = Conversation(default_prompt_book(), {})
    with_all = conv.actor_initial(TASK, ["assert add(1, 1) == 2"], ["use +"])[1].content
    bare = conv.actor_initial(TASK, [], [])[1].content
    assert "assert add(1, 1) == 2" in with_all and "- use +" in with_all
    assert "must pass" not in bare and "Lessons" not in bare
    assert TASK.prompt.strip() in bare and "```python" in bare and "{{" not in bare


def test_instructions_reach_the_actor_system_message_only() -> None:
    conv = Conversation(default_prompt_book(), {}, "  Use type hints.  ")
    actor = conv.actor_initial(TASK, [], [])[0].content
    assert actor.rstrip().endswith("\nUse type hints.") and actor.startswith("You are an expert")
    assert "Use type hints" not in str(conv.reflect(TASK, "x", "y")) + str(conv.critique(TASK, "x"))
    plain = Conversation(default_prompt_book(), {}).actor_initial(TASK, [], [])[0].content
    assert "instructions" not in plain.lower()


def test_missing_variable_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="actor/initial"):
        default_prompt_book().render("actor/initial", prompt="x")


def test_unknown_template_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not found"):
        default_prompt_book().render("actor/nope")
    with pytest.raises(ConfigError, match="not found"):
        default_prompt_book().version("actor/nope")


def test_version_follows_the_file_bytes(tmp_path: Path) -> None:
    (tmp_path / "role").mkdir()
    (tmp_path / "role" / "t.md").write_text("Hello {{ who }}\n")
    first = FilePromptBook(tmp_path)
    assert first.render("role/t", who="model") == "Hello model\n"
    (tmp_path / "role" / "t.md").write_text("Hi {{ who }}\n")
    assert FilePromptBook(tmp_path).version("role/t") != first.version("role/t")
