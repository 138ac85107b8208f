"""Configuration of one DockerJudge: mode, runtime, pool size, image, default limits, labels."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.reflexion.models import JudgeLimits
from app.sandbox_defaults import SANDBOX_BASE_IMAGE
from app.settings import Settings

JudgeMode = Literal["pooled", "fresh"]
Runtime = Literal["runc", "runsc"]


class JudgeConfig(BaseModel):
    """Everything a judge needs to start containers; `from_settings` fills it from `RFX_JUDGE_*`."""

    model_config = ConfigDict(extra="forbid")

    mode: JudgeMode = "pooled"
    runtime: Runtime = "runc"
    workers: int = Field(default=2, ge=1, le=64)
    image: str | None = None  # None: the content-addressed sandbox image, built if missing
    base_image: str = SANDBOX_BASE_IMAGE
    limits: JudgeLimits = Field(default_factory=JudgeLimits)
    recycle_after: int = Field(default=1000, ge=1)  # see Settings.judge_recycle_after
    labels: dict[str, str] = Field(default_factory=dict)
    docker: str = "docker"  # the docker CLI; containers are driven through `docker run -i`
    start_timeout_s: float = Field(default=60.0, gt=0)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> JudgeConfig:
        values: dict[str, object] = {
            "mode": settings.judge_mode,
            "runtime": settings.judge_runtime,
            "workers": settings.judge_workers,
            "image": settings.judge_image,
            "base_image": settings.judge_base_image,
            "limits": settings.judge_limits(),
            "recycle_after": settings.judge_recycle_after,
        }
        values.update(overrides)
        return cls.model_validate(values)
