"""The sandbox image's pytest is exactly the locked wheels: checked before every build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.errors import SandboxError
from app.judge.wheels import check_vendored_wheels, locked_wheels
from app.lockfile import lock_path
from app.paths import sandbox_dir


def test_the_vendored_wheels_are_the_sandbox_lock() -> None:
    check_vendored_wheels()
    locked = locked_wheels(lock_path("sandbox.txt"))
    assert "pytest" in locked and {"pluggy", "iniconfig", "packaging"} <= set(locked)
    assert len(list((sandbox_dir() / "wheels").glob("*.whl"))) == len(locked)


def copy_wheels(tmp_path: Path) -> Path:
    wheels = tmp_path / "wheels"
    shutil.copytree(sandbox_dir() / "wheels", wheels)
    return wheels


def test_a_tampered_wheel_is_refused(tmp_path: Path) -> None:
    wheels = copy_wheels(tmp_path)
    victim = next(wheels.glob("pluggy-*.whl"))
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(SandboxError, match=r"sha256 does not match sandbox\.txt"):
        check_vendored_wheels(wheels)


def test_an_extra_or_missing_wheel_is_refused(tmp_path: Path) -> None:
    wheels = copy_wheels(tmp_path)
    (wheels / "evil-1.0-py3-none-any.whl").write_bytes(b"PK")
    with pytest.raises(SandboxError, match=r"evil-1\.0-py3-none-any\.whl is not in sandbox\.txt"):
        check_vendored_wheels(wheels)
    (wheels / "evil-1.0-py3-none-any.whl").unlink()
    next(wheels.glob("iniconfig-*.whl")).unlink()
    with pytest.raises(SandboxError, match="lacks the locked wheel"):
        check_vendored_wheels(wheels)


def test_a_missing_lock_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="is missing"):
        check_vendored_wheels(sandbox_dir() / "wheels", tmp_path / "sandbox.txt")
