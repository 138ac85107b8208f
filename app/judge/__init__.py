"""Host side of the oracle judge: the sandbox image, a warm pool of hardened containers, verdicts.

`DockerJudge` implements the `Judge` port (app/reflexion/ports.py). The status each hostile
behaviour gets is tabled in app/judge/verdicts.py.
"""

from app.judge.config import JudgeConfig
from app.judge.verdicts import STATUSES

__all__ = ["STATUSES", "JudgeConfig"]
