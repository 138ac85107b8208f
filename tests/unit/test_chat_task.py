"""Reading a chat message as a Task: code, entry point, id, and where the tests come from."""

from __future__ import annotations

import pytest

from app.api.chat_task import ChatTaskError, asserts_check, read_task

DOCSTRING = 'def add(a, b):\n    """Return a + b.\n\n    >>> add(1, 2)\n    3\n    """\n'


def test_fenced_function_with_docstring_examples_and_free_text() -> None:
    chat = read_task(f"Make it fast.\n\n```python\n{DOCSTRING}```\nThanks!")
    assert chat.tests_source == "docstring" and chat.feedback == "visible" and chat.verified
    task = chat.task
    assert task.entry_point == "add" and task.visible_tests == ["assert add(1, 2) == 3"]
    assert task.prompt.startswith("# Make it fast.\n#\n# Thanks!\ndef add(a, b):")
    assert task.tests == asserts_check(task.visible_tests, "add")
    assert (
        task.id.startswith("chat/")
        and task.id == read_task(f"Make it fast.\n\n```python\n{DOCSTRING}```\nThanks!").task.id
    )
    assert task.id != read_task(DOCSTRING).task.id  # the id is a hash of the task's text


def test_plain_code_and_a_fenced_block_of_asserts() -> None:
    text = (
        'Here:\ndef mul(x, y):\n    """Product."""\n\n'
        "Tests:\n```\nassert mul(2, 3) == 6\nassert mul(0, 1) == 0\n```"
    )
    chat = read_task(text)
    assert chat.task.entry_point == "mul" and chat.tests_source == "message"
    assert chat.task.visible_tests == ["assert mul(2, 3) == 6", "assert mul(0, 1) == 0"]
    assert "assert" not in chat.task.prompt


def test_first_def_or_class_is_the_entry_point() -> None:
    chat = read_task("```python\nclass Stack:\n    '''A stack.'''\n\ndef helper():\n    pass\n```")
    assert chat.task.entry_point == "Stack"


def test_rfx_tests_win_and_a_check_program_is_the_grading_and_feedback() -> None:
    chat = read_task(DOCSTRING, tests="def check(candidate):\n    assert candidate(2, 2) == 4\n")
    assert chat.tests_source == "rfx" and chat.feedback == "oracle" and chat.task.visible_tests == []
    listed = read_task(DOCSTRING, tests=["assert add(0, 0) == 0"])
    assert listed.task.visible_tests == ["assert add(0, 0) == 0"] and listed.feedback == "visible"


PYTEST_MODULE = "import pytest\nfrom solution import f\n\ndef test_f():\n    assert f() is None\n"


def test_a_pytest_module_grades_whole_from_the_message_or_rfx_tests() -> None:
    """pytest modules were refused with "not supported yet" before the sandbox ran pytest."""
    message = read_task(f'```python\n{PYTEST_MODULE}```\n```python\ndef f():\n    """Nothing."""\n```')
    assert (message.tests_source, message.feedback) == ("message", "oracle")
    assert (message.task.tests, message.task.tests_format, message.task.entry_point) == (
        PYTEST_MODULE,
        "pytest",
        "f",
    )
    assert "test_f" not in message.task.prompt
    given = read_task(DOCSTRING, tests=PYTEST_MODULE)
    assert (given.tests_source, given.task.tests_format, given.task.tests) == ("rfx", "pytest", PYTEST_MODULE)


def test_no_tests_means_self_tests_and_unverified() -> None:
    chat = read_task('def f(x):\n    """Double x."""\n')
    assert chat.tests_source == "none" and chat.feedback == "self_tests" and not chat.verified
    assert chat.task.tests == ""


@pytest.mark.parametrize(
    ("text", "tests", "param", "words"),
    [
        ("hello there", None, "messages", "no function or class"),
        (
            DOCSTRING,
            "import pytest\ndef test_add(:\n",
            "rfx.tests",
            "the pytest module: tests .pytest. do not",
        ),
        (DOCSTRING, "print('no asserts')", "rfx.tests", "no assert statements"),
    ],
)
def test_bad_messages_name_the_parameter(text: str, tests: str | None, param: str, words: str) -> None:
    with pytest.raises(ChatTaskError, match=words) as caught:
        read_task(text, tests=tests)
    assert caught.value.param == param
