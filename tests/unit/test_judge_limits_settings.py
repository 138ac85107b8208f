"""Judge limits are declared once (JudgeLimits): the flat RFX_JUDGE_* settings take its defaults and
bounds, and the judge's config is built from them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.judge.config import JudgeConfig
from app.reflexion.models import JudgeLimits
from app.settings import Settings


def test_defaults_are_the_domains() -> None:
    settings = Settings()
    assert settings.judge_limits() == JudgeLimits() == JudgeConfig.from_settings(settings).limits


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RFX_JUDGE_MEMORY_MB", "9000"),  # above JudgeLimits' 8192: the settings used to accept it
        ("RFX_JUDGE_PIDS", "5000"),
        ("RFX_JUDGE_CPUS", "65"),
        ("RFX_JUDGE_TIMEOUT", "0"),
    ],
)
def test_a_limit_the_judge_refuses_is_refused_by_the_settings(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert variable.removeprefix("RFX_").lower() in str(info.value)


def test_set_limits_reach_the_judge_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFX_JUDGE_MEMORY_MB", "512")
    monkeypatch.setenv("RFX_JUDGE_TIMEOUT", "3.5")
    limits = JudgeConfig.from_settings(Settings()).limits
    assert (limits.memory_mb, limits.timeout_s) == (512, 3.5)
