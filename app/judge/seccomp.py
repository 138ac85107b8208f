"""The gVisor seccomp profile (app/seccomp_profile.py) as a file for `docker run --security-opt`."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from app.seccomp_profile import runsc_profile

__all__ = ["runsc_profile", "runsc_profile_path"]


def runsc_profile_path() -> Path:
    """The profile as a file for `--security-opt seccomp=PATH` (written once, content-addressed)."""
    text = json.dumps(runsc_profile(), indent=1, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"rfx-seccomp-runsc-{digest}.json"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".{digest}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path
