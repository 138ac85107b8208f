"""Read the hash-pinned requirements files in requirements/ (written by `scripts/lock`).

The lock is pip's requirements format: one block per pinned version, `name==version ; marker \\`
followed by its `--hash=sha256:...` lines. Code that installs something itself (the local model's
runtime) takes its version and hashes from here, so the lock is the one place a version is stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.paths import project_root


@dataclass(frozen=True)
class Pin:
    name: str  # as written in the lock (normalised by the tool that wrote it)
    version: str
    marker: str  # "" when the pin holds everywhere
    block: str  # the pin's lines as pip reads them, hashes included

    @property
    def hashes(self) -> list[str]:
        return [part.removeprefix("--hash=") for part in self.block.split() if part.startswith("--hash=")]


def lock_path(name: str) -> Path:
    return project_root() / "requirements" / name


def parse_lock(text: str) -> list[Pin]:
    """Every pin of a lock file, in order; comment lines and blank lines are not part of any block."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    pins = []
    for lines in blocks:
        head = lines[0].split("#", 1)[0].rstrip().removesuffix("\\").strip()
        requirement, _, marker = head.partition(";")
        name, _, version = requirement.strip().partition("==")
        pins.append(Pin(name.strip(), version.strip(), marker.strip(), "\n".join(lines) + "\n"))
    return pins
