"""The sandbox's vendored wheels (pytest and its dependencies) must be exactly the locked ones.

sandbox/wheels/ is part of the image's build context and of its content tag; requirements/sandbox.txt
(a view of the one lock, made by scripts/lock) pins each package and lists the sha256 of its files.
Before an image is built, every wheel must be the single locked version of a locked package with a
listed hash, and every locked package must have its wheel: the image never holds code the lock
does not name.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from app.errors import SandboxError
from app.lockfile import lock_path, parse_lock
from app.paths import sandbox_dir


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def locked_wheels(lock: Path) -> dict[str, tuple[str, set[str]]]:
    """{normalised package: (version, sha256 hex digests)} from a hashed requirements file."""
    return {
        _normal(pin.name): (pin.version, {h.removeprefix("sha256:") for h in pin.hashes})
        for pin in parse_lock(lock.read_text(encoding="utf-8"))
    }


def check_vendored_wheels(wheels: Path | None = None, lock: Path | None = None) -> None:
    """Raise SandboxError unless the wheels under sandbox/wheels are exactly the locked files."""
    wheels = wheels or sandbox_dir() / "wheels"
    lock = lock or lock_path("sandbox.txt")
    if not lock.is_file():
        raise SandboxError(f"{lock} is missing: the sandbox's wheels cannot be checked (run scripts/lock)")
    pins = locked_wheels(lock)
    seen: set[str] = set()
    for wheel in sorted(wheels.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        pin = pins.get(_normal(name))
        if pin is None or pin[0] != version:
            raise SandboxError(f"{wheel.name} is not in {lock.name} (locked: {pin[0] if pin else 'nothing'})")
        if hashlib.sha256(wheel.read_bytes()).hexdigest() not in pin[1]:
            raise SandboxError(f"{wheel.name}: sha256 does not match {lock.name}")
        seen.add(_normal(name))
    missing = sorted(set(pins) - seen)
    if missing:
        raise SandboxError(f"sandbox/wheels lacks the locked wheel(s) of {', '.join(missing)}")
