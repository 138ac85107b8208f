"""`rfx run` with a bundled actor takes its measured defaults (issue 23, item 4) for what the command
line left unset, including a reflector of another size whose server it then starts or reuses.

Two fake OpenAI-compatible servers stand on the two sizes' loopback ports, answering to the bundled
aliases (tests/integration/test_local_reflector.py's pair).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.llm import ModelOverrides, bundled_defaults
from app.llm.bundled_defaults import BUNDLED_DEFAULTS, BundledDefaults
from app.llm.fake_script import Rule
from app.llm.fake_server import FakeLLMServer
from app.reflexion.models import Episode, EpisodeConfig
from app.settings import Settings
from app.wiring import build_episode_models, close_models
from tests.integration.test_episode_engine import RIGHT
from tests.integration.test_local_reflector import LARGE, SMALL, local_pair  # noqa: F401 (fixture)
from tests.integration.test_run_cli import env, rfx, task_file  # noqa: F401 (fixtures)


def test_rfx_run_uses_the_shipped_defaults_of_the_bundled_actor(
    local_pair: tuple[FakeLLMServer, FakeLLMServer],  # noqa: F811
    task_file: Path,  # noqa: F811
    env: dict[str, str],  # noqa: F811
) -> None:
    """Whatever the held-out run decided for the 0.5B (or the general defaults while it decided
    nothing): no --strategy on the command line means the table's."""
    small, large = local_pair
    small.script(Rule(model=SMALL, replies=[RIGHT]))
    large.script(Rule(model=LARGE, replies=[RIGHT]))
    env = env | {"RFX_LOCAL_MODEL_PORT": str(small.port), "RFX_LOCAL_MODEL_SIZE": "0.5b"}
    result = rfx(["run", "--task", str(task_file), "--model", "local-0.5b", "--json"], env)
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    shipped = BUNDLED_DEFAULTS.get("0.5b")
    expected = EpisodeConfig().with_defaults(shipped.settings) if shipped else EpisodeConfig()
    assert episode.config.model_dump(exclude={"feedback"}) == expected.model_dump(exclude={"feedback"})
    assert episode.reflector_model == (shipped.reflector if shipped and shipped.reflector else "local-0.5b")


async def test_the_default_reflector_and_what_overrides_it(
    local_pair: tuple[FakeLLMServer, FakeLLMServer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    small, large = local_pair
    small.script(Rule(model=SMALL, replies=[RIGHT]))  # a server lists the models it answers to
    large.script(Rule(model=LARGE, replies=[RIGHT]))
    measured = BundledDefaults("chosen", {"strategy": "reflexion", "feedback_level": "trace"}, "local-1.5b")
    monkeypatch.setattr(bundled_defaults, "BUNDLED_DEFAULTS", {"0.5b": measured})
    settings = Settings(local_model_port=small.port, local_model_size="0.5b", data_dir=tmp_path)
    actor = ModelOverrides(model="local-0.5b")

    models = build_episode_models(settings, actor, ModelOverrides(), EpisodeConfig())
    try:
        assert [m.name for m in models[:2]] == ["local-0.5b", "local-1.5b"]
        assert models[2].feedback_level == "trace"
        said = capsys.readouterr().err
        assert "local-0.5b runs its measured defaults" in said
        assert "strategy reflexion, feedback_level trace, reflector local-1.5b" in said  # what differs
    finally:
        await close_models(*models[:2])

    own = build_episode_models(settings, actor, ModelOverrides(model="local-0.5b"), EpisodeConfig())
    assert "measured defaults" in capsys.readouterr().err  # the reflector was the caller's, the rest not
    other = build_episode_models(
        settings, actor, ModelOverrides(), EpisodeConfig.model_validate({"strategy": "self_refine"})
    )
    assert "measured defaults" not in capsys.readouterr().err  # another strategy: nothing measured
    try:
        assert own[1].name == "local-0.5b" and own[2].feedback_level == "trace"
        assert other[1].name == "local-0.5b" and other[2].feedback_level == "standard"
    finally:
        await close_models(*own[:2], *other[:2])
