"""The `rfx` command line as a new user meets it: help, usage errors, missing Docker or Redis.

Every expected failure is one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.services import free_port

RFX = str(Path(sys.executable).parent / "rfx")


def rfx(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [RFX, *args], env=full_env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rfx: error: "), lines[0]
    return lines[0]


def test_help_lists_every_command() -> None:
    result = rfx("--help")
    assert result.returncode == 0, result.stderr
    for command in ("run", "judge", "bench", "export", "serve", "worker", "sandbox", "model", "episodes"):
        assert f" {command} " in result.stdout, f"{command} missing from rfx --help"


@pytest.mark.parametrize(
    "args", [("--no-such-flag",), ("run", "--no-such-flag"), ("judge",), ("no-such-command",)]
)
def test_usage_errors_are_one_line(args: tuple[str, ...]) -> None:
    result = rfx(*args)
    line = assert_one_line_error(result)
    assert result.returncode == 2, line


def test_missing_docker_engine_is_one_line(tmp_path: Path) -> None:
    result = rfx("sandbox", "build", env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    line = assert_one_line_error(result)
    assert "docker" in line.lower(), line


def test_missing_redis_is_one_line(tmp_path: Path) -> None:
    task = tmp_path / "task.json"
    task.write_text('{"id": "t", "prompt": "def f():\\n", "entry_point": "f", "tests": "def check(c): pass"}')
    closed = f"redis://127.0.0.1:{free_port()}/0"
    result = rfx(
        "run",
        "--task",
        str(task),
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        env={"RFX_REDIS_URL": closed},
    )
    line = assert_one_line_error(result)
    assert "redis" in line.lower(), line
