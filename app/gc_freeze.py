"""Keep the cyclic garbage collector's full passes short in the long-running service processes.

A full (generation 2) collection scans every tracked object, and after start-up a service process
holds tens of thousands of them (modules, classes, the app's routes and schemas): the event loop
serves nothing meanwhile, so a POST landing in a full pass waits for it (the POST tail of
`bench/load.py`; `/metrics` shows how many objects were frozen).
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
