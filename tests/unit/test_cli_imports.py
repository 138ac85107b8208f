"""`rfx --help` (and every command's --help) starts fast: commands import what they use when they run,
so asking for help loads no web server, Redis, Docker, LLM or llama.cpp library.

Each case runs the real entry point in a fresh interpreter and reads its `sys.modules` afterwards.
bench/cli_startup.py measures the resulting wall time against `python3 -c pass`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "uvicorn", "starlette", "redis", "docker", "openai", "aiohttp", "httpx", "llama_cpp")
PROBE = """
import json, sys
{preload}
from app.cli import main
try:
    main(sys.argv[1:])
    code = 0
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\n" + json.dumps({{"code": code, "modules": sorted(sys.modules)}}) + "\\n")
"""


def loaded_after(*args: str, preload: str = "") -> tuple[str, set[str]]:
    """Run `rfx ARGS` in a fresh interpreter; its stdout and the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(preload=preload), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return done.stdout, {name.split(".")[0] for name in report["modules"]}


HELP = [
    ("--help",),
    ("judge", "--help"),
    ("run", "--help"),
    ("bench", "--help"),
    ("bench", "humaneval", "--help"),
    ("bench", "judge", "--help"),
    ("export", "--help"),
    ("sandbox", "--help"),
    ("model", "--help"),
    ("serve", "--help"),
    ("worker", "--help"),
    ("episodes", "--help"),
    ("episodes", "watch", "--help"),
]


@pytest.mark.parametrize("args", HELP, ids=[" ".join(a) for a in HELP])
def test_help_imports_no_service_library(args: tuple[str, ...]) -> None:
    stdout, modules = loaded_after(*args)
    assert "Usage:" in stdout  # the help really was printed
    assert not modules & set(HEAVY), f"rfx {' '.join(args)} imported {sorted(modules & set(HEAVY))}"


def test_the_probe_sees_a_heavy_import_when_there_is_one() -> None:
    # the same probe with the wiring and the judge imported first: Redis and Docker show up
    _, modules = loaded_after("--help", preload="import app.wiring, app.judge")
    assert {"redis", "docker"} <= modules
