"""`rfx run` with a bundled actor takes its measured defaults (issue 23, item 4) for what the command
line left unset, including a reflector of another size whose server it then starts or reuses.

Two fake OpenAI-compatible servers stand on the two sizes' loopback ports, answering to the bundled
aliases (tests/integration/test_local_reflector.py's pair).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.llm import ModelOverrides, bundled_defaults
from app.llm.bundled_defaults import BUNDLED_DEFAULTS, BundledDefaults, applicable
from app.llm.fake_script import Rule
from app.llm.fake_server import FakeLLMServer
from app.reflexion.models import Episode, EpisodeConfig
from app.settings import Settings, get_settings
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
    nothing): no --strategy on the command line means the table's, as a host with no model installed
    (the test's data dir) can run it."""
    small, large = local_pair
    small.script(Rule(model=SMALL, replies=[RIGHT]))
    large.script(Rule(model=LARGE, replies=[RIGHT]))
    env = env | {"RFX_LOCAL_MODEL_PORT": str(small.port), "RFX_LOCAL_MODEL_SIZE": "0.5b"}
    result = rfx(["run", "--task", str(task_file), "--model", "local-0.5b", "--json"], env)
    assert result.returncode == 0, result.stderr
    episode = Episode.model_validate_json(result.stdout)
    shipped = applicable(
        BUNDLED_DEFAULTS.get("0.5b"), EpisodeConfig(), reflector_chosen=False, runs_here=lambda name: False
    )
    expected = EpisodeConfig().with_defaults(shipped.settings) if shipped else EpisodeConfig()
    assert episode.config.model_dump(exclude={"feedback"}) == expected.model_dump(exclude={"feedback"})
    assert episode.reflector_model == "local-0.5b"  # the only size a host without weights may reflect with


async def test_the_default_reflector_and_what_overrides_it(
    local_pair: tuple[FakeLLMServer, FakeLLMServer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 1.5B actor whose defaults reflect with the 0.5B, on a host where the 0.5B is installed (the
    data dir `make model` installs it to)."""
    small, large = local_pair
    small.script(Rule(model=SMALL, replies=[RIGHT]))  # a server lists the models it answers to
    large.script(Rule(model=LARGE, replies=[RIGHT]))
    measured = BundledDefaults("chosen", {"strategy": "reflexion", "feedback_level": "trace"}, "local-0.5b")
    monkeypatch.setattr(bundled_defaults, "BUNDLED_DEFAULTS", {"1.5b": measured})
    installed = get_settings().data_dir
    settings = Settings(local_model_port=small.port, local_model_size="0.5b", data_dir=installed)
    actor = ModelOverrides(model="local-1.5b")

    models = build_episode_models(settings, actor, ModelOverrides(), EpisodeConfig())
    try:
        assert [m.name for m in models[:2]] == ["local-1.5b", "local-0.5b"]
        assert models[2].feedback_level == "trace"
        said = " ".join(capsys.readouterr().err.split())  # rich wraps lines
        assert "local-1.5b runs its measured defaults" in said
        assert "strategy reflexion, feedback_level trace, reflector local-0.5b" in said  # what differs
    finally:
        await close_models(*models[:2])

    own = build_episode_models(settings, actor, ModelOverrides(model="local-1.5b"), EpisodeConfig())
    said = " ".join(capsys.readouterr().err.split())  # rich wraps lines
    assert "measured defaults" in said and "reflector local-0.5b" not in said  # the caller's reflector
    other = build_episode_models(
        settings, actor, ModelOverrides(), EpisodeConfig.model_validate({"strategy": "self_refine"})
    )
    assert "measured defaults" not in capsys.readouterr().err  # another strategy: nothing measured
    try:
        assert own[1].name == "local-1.5b" and own[2].feedback_level == "trace"
        assert other[1].name == "local-1.5b" and other[2].feedback_level == "standard"
    finally:
        await close_models(*own[:2], *other[:2])


async def test_without_the_reflectors_weights_the_actor_alone_verdict_applies(
    local_pair: tuple[FakeLLMServer, FakeLLMServer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing is installed in tmp_path: the 1.5B reflector the winner names cannot run (a fake
    answering on its port does not make it installed), so the 0.5B alone runs its own verdict."""
    small, large = local_pair
    small.script(Rule(model=SMALL, replies=[RIGHT]))
    large.script(Rule(model=LARGE, replies=[RIGHT]))
    alone = BundledDefaults("best-of-4", {"strategy": "best_of_n", "samples": 4})
    winner = BundledDefaults(
        "chosen", {"strategy": "reflexion", "feedback_level": "trace"}, "local-1.5b", alone
    )
    monkeypatch.setattr(bundled_defaults, "BUNDLED_DEFAULTS", {"0.5b": winner})
    settings = Settings(local_model_port=small.port, local_model_size="0.5b", data_dir=tmp_path)

    models = build_episode_models(
        settings, ModelOverrides(model="local-0.5b"), ModelOverrides(), EpisodeConfig()
    )
    try:
        assert [m.name for m in models[:2]] == ["local-0.5b", "local-0.5b"]
        assert (models[2].strategy, models[2].samples, models[2].feedback_level) == (
            "best_of_n",
            4,
            "standard",
        )
        said = " ".join(capsys.readouterr().err.split())  # rich wraps lines
        assert "strategy best_of_n, samples 4 (the held-out run's `best-of-4`" in said
        assert "the winner `chosen` reflects with local-1.5b, not installed here" in said
        assert "rfx model install --size 1.5b" in said
    finally:
        await close_models(*models[:2])
