"""Episode ids: one shape for every producer (the API, `rfx run`, the benchmark).

`ep_` + a 48-bit millisecond clock + 32 random bits, all hex: lexicographic order is creation
order (the store pages by it), and the pattern lets the API refuse anything else before a lookup.
"""

from __future__ import annotations

import re
import secrets
import time

EPISODE_ID_PATTERN = r"^ep_[0-9a-f]{20}$"
EPISODE_ID_RE = re.compile(EPISODE_ID_PATTERN)


def new_episode_id() -> str:
    return f"ep_{int(time.time() * 1000):012x}{secrets.token_hex(4)}"
