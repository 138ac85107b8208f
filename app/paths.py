"""Where the project's non-Python assets live.

`prompts/` and `sandbox/` sit at the top level of the repository (the design card puts them there),
not inside the `app` package, so they are located relative to this file; the container image copies
them to the same relative place.  `RFX_PROJECT_ROOT` overrides it for unusual installs.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    override = os.environ.get("RFX_PROJECT_ROOT")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent


def prompts_dir() -> Path:
    return project_root() / "prompts"


def sandbox_dir() -> Path:
    return project_root() / "sandbox"
