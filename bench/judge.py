"""Judge benchmark script: a thin wrapper over app/benchmark/judge_bench.py (also `rfx bench judge`).

.venv/bin/python bench/judge.py [--workers 2] [--modes pooled,fresh] [--runtimes runc,runsc]
                                [--limit N] [--samples 15] [--json out.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.cli import main

if __name__ == "__main__":
    main(["bench", "judge", *sys.argv[1:]])
