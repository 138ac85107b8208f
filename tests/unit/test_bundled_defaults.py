"""A bundled model's episode defaults (issue 23, item 4): the table the service applies is the one the
held-out run decided (bench/real_model/heldout-40-163/defaults.json), and it fills only what the
caller left unset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.llm import bundled_defaults
from app.llm.bundled_defaults import (
    BUNDLED_DEFAULTS,
    BundledDefaults,
    applicable,
    defaults_for,
    with_bundled_defaults,
)
from app.llm.presets import LOCAL, LOCAL_SIZES, bundled_size, local_alias
from app.llm.providers import ModelRegistry
from app.mcp.tools import RunEpisode
from app.reflexion.models import EpisodeConfig
from app.settings import Settings

VERDICTS = Path(__file__).resolve().parents[2] / "bench" / "real_model" / "heldout-40-163" / "defaults.json"


def verdict(run: str, reflector: str = "local-0.5b", **settings: Any) -> dict[str, Any]:
    """One size's entry of defaults.json, shaped as bench/real_model/defaults.py writes it."""
    ran = {
        "strategy": "reflexion",
        "max_trials": 3,
        "samples": 5,
        "branching": 2,
        "retries": "sampled",
        "feedback_level": "standard",
        "retry_context": "revise",
        "temperature": None,
        "seed": 0,
        "actor_model": "local-0.5b",
        "reflector_model": reflector,
        **settings,
    }
    return {"run": run, "settings": ran, "rule": "the rule"}


def test_the_table_is_the_held_out_runs_verdict() -> None:
    decided = json.loads(VERDICTS.read_text(encoding="utf-8")) if VERDICTS.exists() else {}
    table = {size: BundledDefaults.from_verdict(entry) for size, entry in decided.items()}
    assert table == BUNDLED_DEFAULTS, f"app/llm/bundled_defaults.py: BUNDLED_DEFAULTS = {table!r}"
    for size, defaults in BUNDLED_DEFAULTS.items():
        assert size in LOCAL_SIZES
        EpisodeConfig().with_defaults(defaults.settings)  # every entry is a valid episode config


def test_a_verdict_names_settings_and_a_reflector_of_another_size() -> None:
    chosen = BundledDefaults.from_verdict(
        verdict("reflexion-1.5b-reflector", "local-1.5b", feedback_level="trace", retry_context="fresh")
    )
    assert chosen.reflector == "local-1.5b"
    assert chosen.settings["feedback_level"] == "trace" and chosen.settings["retry_context"] == "fresh"
    assert not {"seed", "actor_model", "reflector_model", "temperature"} & set(chosen.settings)
    single = BundledDefaults.from_verdict(verdict("single", strategy="single"))
    assert (single.run, single.settings["strategy"], single.reflector) == ("single", "single", None)
    assert chosen.alone is None and single.alone is None
    with_alone = verdict("reflexion-1.5b-reflector", "local-1.5b")
    with_alone["alone"] = verdict("best-of-4", strategy="best_of_n", samples=4)
    alone = BundledDefaults.from_verdict(with_alone).alone
    assert alone is not None and (alone.run, alone.reflector, alone.alone) == ("best-of-4", None, None)
    assert (alone.settings["strategy"], alone.settings["samples"]) == ("best_of_n", 4)


def test_defaults_fill_only_what_the_caller_left_unset() -> None:
    defaults = {"strategy": "best_of_n", "samples": 4, "feedback_level": "trace"}
    mine = EpisodeConfig.model_validate({"samples": 2, "max_trials": 5})
    config = mine.with_defaults(defaults)
    assert (config.strategy, config.samples, config.max_trials, config.feedback_level) == (
        "best_of_n",
        2,
        5,
        "trace",
    )
    assert config.retry_context == "revise"  # neither set nor defaulted: the general default
    assert config.with_defaults({"samples": 9, "strategy": "single"}) == config  # applied ones count as set


def everywhere(name: str) -> bool:
    return True


def nowhere(name: str) -> bool:
    return False


def test_a_caller_who_chose_another_strategy_gets_the_general_defaults() -> None:
    measured = BundledDefaults("best-of-4", {"strategy": "best_of_n", "samples": 4}, reflector="local-1.5b")
    other = EpisodeConfig.model_validate({"strategy": "reflexion"})
    assert applicable(measured, other, reflector_chosen=False, runs_here=everywhere) is None
    assert with_bundled_defaults(other, None, reflector_chosen=False, runs_here=everywhere) == (
        other,
        None,
        None,
    )
    same = EpisodeConfig.model_validate({"strategy": "best_of_n"})
    assert applicable(measured, same, reflector_chosen=False, runs_here=everywhere) is measured
    config, reflector, _ = with_bundled_defaults(same, measured, reflector_chosen=False, runs_here=everywhere)
    assert (config.samples, reflector) == (4, "local-1.5b")
    config, reflector, _ = with_bundled_defaults(same, measured, reflector_chosen=True, runs_here=everywhere)
    assert (config.strategy, config.samples, reflector) == ("best_of_n", 4, None)
    nothing = EpisodeConfig()
    assert applicable(None, nothing, reflector_chosen=False, runs_here=everywhere) is None


def test_a_chosen_reflector_asks_for_reflection_which_a_sampling_default_never_does() -> None:
    """`--reflector-model local-1.5b` for the 0.5B actor asks for lessons: best_of_n never asks a
    reflector, so that caller gets the general defaults (reflexion) rather than a reflector silently
    unused; a measured strategy that reflects still applies, with the caller's reflector."""
    sampling = BundledDefaults("best-of-4", {"strategy": "best_of_n", "samples": 4})
    nothing = EpisodeConfig()
    assert applicable(sampling, nothing, reflector_chosen=True, runs_here=everywhere) is None
    assert applicable(sampling, nothing, reflector_chosen=False, runs_here=everywhere) is sampling
    both = EpisodeConfig.model_validate({"strategy": "best_of_n"})
    assert applicable(sampling, both, reflector_chosen=True, runs_here=everywhere) is sampling
    reflecting = BundledDefaults("chosen", {"strategy": "tree_search", "branching": 3})
    assert applicable(reflecting, nothing, reflector_chosen=True, runs_here=everywhere) is reflecting


def test_a_host_without_the_reflectors_weights_gets_the_actor_alone_verdict() -> None:
    """The winner's settings were measured with its reflector: without it, the verdict among the
    runs of the actor alone applies, and nothing when that one is another strategy than the caller's."""
    alone = BundledDefaults("best-of-4", {"strategy": "best_of_n", "samples": 4})
    winner = BundledDefaults(
        "chosen", {"strategy": "reflexion", "feedback_level": "trace"}, "local-1.5b", alone
    )
    asked: list[str] = []

    def installed(name: str) -> bool:
        asked.append(name)
        return False

    nothing = EpisodeConfig()
    assert applicable(winner, nothing, reflector_chosen=False, runs_here=installed) is alone
    config, reflector, applied = with_bundled_defaults(
        nothing, winner, reflector_chosen=False, runs_here=nowhere
    )
    assert (applied, reflector, config.strategy, config.samples) == (alone, None, "best_of_n", 4)
    assert asked == ["local-1.5b"]
    assert applicable(winner, nothing, reflector_chosen=False, runs_here=everywhere) is winner
    assert applicable(winner, nothing, reflector_chosen=True, runs_here=nowhere) is winner  # theirs runs
    reflexion = EpisodeConfig.model_validate({"strategy": "reflexion"})
    assert applicable(winner, reflexion, reflector_chosen=False, runs_here=nowhere) is None
    no_fallback = BundledDefaults("chosen", {"strategy": "reflexion"}, "local-1.5b")
    assert applicable(no_fallback, nothing, reflector_chosen=False, runs_here=nowhere) is None


def test_only_the_bundled_models_are_bundled(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bundled_size(LOCAL, local_alias("0.5b")) == "0.5b"
    assert bundled_size(LOCAL, local_alias("1.5b")) == "1.5b"
    assert bundled_size(None, local_alias("0.5b")) is None  # the same weights at a URL the user gave
    assert bundled_size(LOCAL, "qwen2.5-coder-7b") is None
    measured = BundledDefaults("single", {"strategy": "single"})
    monkeypatch.setitem(bundled_defaults.BUNDLED_DEFAULTS, "0.5b", measured)
    assert defaults_for(LOCAL, local_alias("0.5b")) is measured
    assert defaults_for("ollama", local_alias("0.5b")) is None


def test_an_mcp_call_leaves_unset_what_it_did_not_set() -> None:
    body = RunEpisode.model_validate({"humaneval": "HumanEval/0", "samples": 2}).body()
    assert body.config().model_fields_set == {"samples"}


def test_the_bundled_model_at_another_url_counts_when_its_provider_says_local() -> None:
    """The compose stack's model service (scripts/stack-init --model) serves the bundled weights at
    http://model:8089/v1 and is configured with the `local` provider, so its measured defaults apply;
    the same URL without it is a model of the user's."""
    where = {"actor_base_url": "http://model:8089/v1", "actor_model": local_alias("0.5b")}
    stack = ModelRegistry.from_settings(Settings(actor_provider=LOCAL, **where)).actor()
    assert (stack.base_url, bundled_size(stack.provider, stack.model)) == ("http://model:8089/v1", "0.5b")
    theirs = ModelRegistry.from_settings(Settings(**where)).actor()
    assert bundled_size(theirs.provider, theirs.model) is None
