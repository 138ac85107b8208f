"""Host side of the oracle judge: the sandbox image, a warm pool of hardened containers, verdicts.

`DockerJudge` implements the `Judge` port (app/reflexion/ports.py). The status each hostile
behaviour gets is tabled in app/judge/verdicts.py.
"""

from app.judge.config import JudgeConfig, JudgeMode, Runtime
from app.judge.docker_judge import DockerJudge, submission_problem
from app.judge.image import ensure_sandbox_image, sandbox_image_tag
from app.judge.verdicts import STATUSES, humaneval_result

__all__ = [
    "STATUSES",
    "DockerJudge",
    "JudgeConfig",
    "JudgeMode",
    "Runtime",
    "ensure_sandbox_image",
    "humaneval_result",
    "sandbox_image_tag",
    "submission_problem",
]
