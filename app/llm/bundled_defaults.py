"""What an episode of a bundled model does when the caller does not say (issue 23: the product follows
the evidence).

Per bundled size, the strategy and settings that bench/real_model/defaults.py chose from the held-out
run (HumanEval/40-163) by the rule it states, or `single` when no feedback strategy beat one attempt
beyond the noise. The table is copied from its defaults.json, and tests/unit/test_bundled_defaults.py
checks the copy against it; a size the run has not decided has no entry and keeps the general
defaults (EpisodeConfig). Models the user configures keep the general defaults (the measurement says
nothing about them), unless configured with the `local` provider: the bundled weights served
elsewhere, as in the compose stack (presets.bundled_size).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.llm.presets import bundled_size
from app.reflexion.models import EpisodeConfig
from app.reflexion.vocabulary import REFLECTING_STRATEGIES

# The run's settings that are not an episode's defaults: the benchmark's fixed sampling seed (a
# default seed would make every caller's samples the same) and the models (the reflector is its own
# field below).
_NOT_DEFAULTS = frozenset({"seed", "actor_model", "reflector_model"})


@dataclass(frozen=True)
class BundledDefaults:
    """One size's defaults: EpisodeConfig fields, and the reflector when it is another bundled size;
    then also the verdict among the runs of the actor alone (`alone`), for a host that lacks that
    reflector's weights: it gets what the run measured without it, never the winner's settings with a
    reflector they were not measured with."""

    run: str  # the held-out run they come from (bench/real_model/heldout-40-163/<size>/<run>)
    settings: Mapping[str, Any] = field(default_factory=dict)
    reflector: str | None = None
    alone: BundledDefaults | None = None

    @classmethod
    def from_verdict(cls, verdict: Mapping[str, Any]) -> BundledDefaults:
        """One size's entry of defaults.json as the defaults it names."""
        ran = verdict["settings"]
        settings = {k: v for k, v in ran.items() if k not in _NOT_DEFAULTS and v is not None}
        reflector = ran["reflector_model"] if ran["reflector_model"] != ran["actor_model"] else None
        alone = cls.from_verdict(verdict["alone"]) if verdict.get("alone") else None
        return cls(run=verdict["run"], settings=settings, reflector=reflector, alone=alone)

    def applies_to(self, config: EpisodeConfig, *, reflector_chosen: bool) -> bool:
        """The settings were measured as one whole with their strategy: a caller who chose another
        strategy gets the general defaults for the rest, and so does one who chose a reflector (or
        whose configuration has its own) when the measured strategy asks no reflector for lessons:
        naming one asks for reflection, which that strategy would silently drop."""
        measured: str = self.settings.get("strategy", config.strategy)
        if "strategy" in config.model_fields_set:
            return config.strategy == measured
        return measured in REFLECTING_STRATEGIES or not reflector_chosen


BUNDLED_DEFAULTS: dict[str, BundledDefaults] = {
    "0.5b": BundledDefaults(
        run="best-of-4",
        settings={
            "strategy": "best_of_n",
            "max_trials": 3,
            "samples": 4,
            "branching": 2,
            "retries": "sampled",
            "feedback_level": "standard",
            "retry_context": "revise",
        },
        reflector=None,
        alone=None,
    ),
    "1.5b": BundledDefaults(
        run="single",
        settings={
            "strategy": "single",
            "max_trials": 3,
            "samples": 5,
            "branching": 2,
            "retries": "sampled",
            "feedback_level": "standard",
            "retry_context": "revise",
        },
        reflector=None,
        alone=None,
    ),
}


def defaults_for(provider: str | None, model: str) -> BundledDefaults | None:
    """The defaults of a configured model when it is a bundled size the held-out run decided."""
    size = bundled_size(provider, model)
    return BUNDLED_DEFAULTS.get(size) if size is not None else None


def applicable(
    defaults: BundledDefaults | None,
    config: EpisodeConfig,
    *,
    reflector_chosen: bool,
    runs_here: Callable[[str], bool],
) -> BundledDefaults | None:
    """The defaults an episode takes: none when the caller chose another strategy, or a reflector that
    the measured strategy would not ask (BundledDefaults.applies_to); the measured whole
    when it needs no other model, when the caller chose the reflector, or when `runs_here` says the
    reflector it names can run on this host; else the verdict of the actor alone."""
    if defaults is None or not defaults.applies_to(config, reflector_chosen=reflector_chosen):
        return None
    if defaults.reflector is None or reflector_chosen or runs_here(defaults.reflector):
        return defaults
    return applicable(defaults.alone, config, reflector_chosen=reflector_chosen, runs_here=runs_here)


def with_bundled_defaults(
    config: EpisodeConfig,
    measured: BundledDefaults | None,
    *,
    reflector_chosen: bool,
    runs_here: Callable[[str], bool],
) -> tuple[EpisodeConfig, str | None, BundledDefaults | None]:
    """What an episode runs, the one step the HTTP routes and `rfx run` share: the config once the
    `applicable` part of an actor's `measured` defaults fills what the caller left unset, the
    reflector they name when nobody chose one (None: the usual choice, the actor's), and the defaults
    that applied (None: none). A reflector is chosen when the caller named one or the service's
    configuration has its own; a default never replaces either."""
    defaults = applicable(measured, config, reflector_chosen=reflector_chosen, runs_here=runs_here)
    if defaults is None:
        return config, None, None
    reflector = None if reflector_chosen else defaults.reflector
    return config.with_defaults(defaults.settings), reflector, defaults
