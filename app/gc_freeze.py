"""Keep the cyclic garbage collector's full passes short in the long-running service processes.

A full (generation 2) collection scans every tracked object. After start-up the API holds ~85,000
of them (modules, classes, the app's routes and schemas), and a full pass took 27-73 ms in the API,
21-124 ms in a worker and 57 ms in the fake LLM server during `bench/load.py` on this project's
2-vCPU VM: the event loop serves nothing meanwhile, so a POST landing in it waits that long.
Objects made during start-up live as long as the process, so they are moved to the permanent
generation once (gc.freeze) and later passes scan only what came after. Only the process entry
points call this, never an app built inside a test: a frozen object in a reference cycle is never
freed.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect start-up garbage, then exempt every object alive now from later collections."""
    gc.collect()
    gc.freeze()
