"""`rfx run`: one episode without the HTTP server.

Progress (trial, verdicts, lesson) goes to stderr, styled when stderr is a terminal, so stdout stays
clean for `--json`, which prints the final Episode record. The exit code says whether the episode
succeeded (0), did not (1) or was interrupted with Ctrl-C (130, after the cancelled record is
printed); bad input and unreachable dependencies are one-line errors (exit 2 / 3).
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from app.errors import InvalidInput
from app.reflexion.vocabulary import (
    FeedbackLevel,
    FeedbackSource,
    MemoryScope,
    RetryContext,
    RetryMode,
    StrategyName,
)

if TYPE_CHECKING:  # the command imports what it runs when it runs: `rfx --help` stays fast
    from rich.console import Console
    from rich.status import Status

    from app.reflexion.models import Episode, EpisodeConfig, EventType, Task, Verdict
    from app.reflexion.ports import ChatModel
    from app.settings import Settings


def parse_temperatures(value: str | None) -> list[float] | None:
    """`--retry-temperatures 0.4,0.6,0.8` as floats (their range is checked by EpisodeConfig)."""
    if value is None:
        return None
    try:
        return [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        why = f"--retry-temperatures: not a comma-separated list of numbers: {value!r}"
        raise InvalidInput(why) from None


def refuse_blind_feedback(config: EpisodeConfig, task: Task) -> None:
    problem = config.feedback_problem(task)
    if problem is not None:
        raise InvalidInput(f"--feedback: {problem}")


class ProgressSink:
    """An EventSink that tells a person what the episode is doing, one short line per step.

    On a terminal a spinner line also says what the episode is waiting for (the model or the judge).
    """

    def __init__(self, console: Console, status: Status | None = None) -> None:
        self.console = console
        self.status = status
        self.episode: Episode | None = None

    async def emit(self, episode: Episode, type: EventType, data: dict[str, object]) -> None:
        self.episode = episode
        self._print(episode, type, data)
        if self.status is not None:
            self.status.update(_waiting_for(episode, type))

    def _print(self, episode: Episode, type: EventType, data: dict[str, object]) -> None:
        say = self.console.print
        if type == "episode.started":
            say(
                f"[bold]episode {episode.id}[/] task {escape(episode.task.id)}: strategy {data['strategy']}, "
                f"feedback {data['feedback']}, actor {escape(episode.actor_model)}, "
                f"reflector {escape(episode.reflector_model)}"
            )
        elif type == "attempt.generated":
            outcome = "" if data["llm_outcome"] == "ok" else f" [red]({data['llm_outcome']})[/]"
            code = "code" if data["has_code"] else "[yellow]no code[/]"
            node = f" (child of trial {data['parent']})" if data.get("parent") is not None else ""
            cost = f"{data['tokens']} tokens, {data['latency_ms']} ms"
            say(f"trial {data['trial']}{node}: {code}, {cost}{outcome}")
        elif type == "attempt.resampled":
            say(
                f"trial {data['trial']}: [yellow]repeats trial {data['duplicate_of']}[/], drawn again "
                f"(temperature {data['temperature']})"
            )
        elif type == "attempt.judged":
            attempt = episode.attempts[-1]
            feedback, hidden = _verdict(attempt.feedback), _verdict(attempt.hidden)
            say(f"trial {data['trial']}: feedback {feedback}, hidden {hidden}")
            for test in attempt.feedback.failing()[:3] if attempt.feedback else []:
                message = f" -- {escape(test.message)}" if test.message else ""
                say(f"  [red]x[/] {escape(test.name)}{message}")
        elif type == "reflection.created":
            say(f"trial {data['trial']} {data['kind']}: [italic]{escape(str(data['text']))}[/]")
        elif type == "episode.finished":
            colour = "green" if data["status"] == "succeeded" else "red"
            error = f" -- {escape(str(data['error']))}" if data.get("error") else ""
            say(
                f"[bold {colour}]{data['status']}[/] (stop: {data['stop_reason']}), answer from trial "
                f"{data['final_trial']}, {data['trials']} trials, {data['tokens']} tokens{error}"
            )


def _waiting_for(episode: Episode, type: EventType) -> str:
    trial = len(episode.attempts)
    if type == "episode.finished":
        return "done"
    if type == "attempt.generated":
        return f"trial {trial}: judging in the sandbox"
    last = episode.attempts[-1] if episode.attempts else None
    solved = last is not None and last.feedback_passed
    if type == "attempt.judged" and episode.config.strategy == "reflexion" and not solved:
        return f"trial {trial}: reflecting on the failure"
    if type == "attempt.judged" and episode.config.strategy == "self_refine":
        return f"trial {trial}: the actor reviews its own code"
    return f"trial {trial + 1}: waiting for the actor"


def _verdict(verdict: Verdict | None) -> str:
    if verdict is None:
        return "-"
    colour = "green" if verdict.passed else "red"
    failing = len(verdict.failing())
    counts = f" {len(verdict.tests) - failing}/{len(verdict.tests)}" if verdict.tests else ""
    return f"[{colour}]{verdict.status}{counts}[/]"


async def execute(
    settings: Settings,
    task: Task,
    config: EpisodeConfig,
    actor: ChatModel,
    reflector: ChatModel,
    console: Console,
) -> Episode:
    """Run the episode; on Ctrl-C the loop records it as cancelled, and that record is returned."""
    from app.reflexion.loop import new_episode, run_episode
    from app.wiring import close_models, open_adapters

    try:
        async with open_adapters(settings, need_memory=config.memory != "none") as adapters:
            with console.status("starting the episode") as status:
                sink = ProgressSink(console, status)
                try:
                    deps = adapters.episode_deps(actor, reflector, sink)
                    return await run_episode(new_episode(task, config), deps)
                except asyncio.CancelledError:
                    if sink.episode is not None and sink.episode.status == "cancelled":
                        return sink.episode  # the top-level task: nothing above it awaits the cancel
                    raise
    finally:
        await close_models(actor, reflector)


Opt = typer.Option
TaskOpt = Annotated[str, Opt("--task", help="JSON file with a Task, or humaneval:HumanEval/N.")]
ModelOpt = Annotated[str | None, Opt("--model", help="Actor model: configured name, or id at --base-url.")]
UrlOpt = Annotated[str | None, Opt("--base-url", help="Actor endpoint (OpenAI-compatible API root).")]
KeyOpt = Annotated[str | None, Opt("--api-key", help="Actor API key.")]
RModelOpt = Annotated[str | None, Opt("--reflector-model", help="Reflector model (default: the actor's).")]
RUrlOpt = Annotated[str | None, Opt("--reflector-base-url", help="Reflector endpoint.")]
RKeyOpt = Annotated[str | None, Opt("--reflector-api-key", help="Reflector API key.")]
StrategyOpt = Annotated[
    StrategyName | None,
    Opt(
        "--strategy",
        help="How the trials are spent [default: reflexion; a bundled model (local, local-0.5b, "
        "local-1.5b): the strategy and settings its held-out measurement chose, said on stderr].",
    ),
]
FeedbackOpt = Annotated[
    FeedbackSource | None,
    Opt(
        "--feedback",
        help="Source of the model's test feedback [default: visible if the task has visible tests, "
        "else oracle].",
    ),
]
TrialsOpt = Annotated[
    int | None,
    Opt("--max-trials", help="Trials (reflexion, self_refine; judged nodes of tree_search) [default: 3]."),
]
SamplesOpt = Annotated[int | None, Opt("--samples", help="Samples for best_of_n [default: 5].")]
BranchingOpt = Annotated[
    int | None, Opt("--branching", help="Children drawn per expanded node (tree_search) [default: 2].")
]
TempOpt = Annotated[float | None, Opt("--temperature", help="Temperature [default: 0, best_of_n 0.8].")]
SeedOpt = Annotated[int | None, Opt("--seed", help="Sampling seed, where the endpoint supports it.")]
BudgetOpt = Annotated[int | None, Opt("--budget-tokens", help="Stop once this many tokens are spent.")]
TimeoutOpt = Annotated[float | None, Opt("--timeout", help="Wall-clock limit of the episode in seconds.")]
MemoryOpt = Annotated[
    MemoryScope | None,
    Opt(
        "--memory",
        help="Lessons kept per episode, per task (start from earlier lessons of the same task id), "
        "or only in this episode's record [default: episode].",
    ),
]
WindowOpt = Annotated[int | None, Opt("--memory-window", help="Lessons shown to the actor [default: 3].")]
RetriesOpt = Annotated[
    RetryMode | None,
    Opt(
        "--retries",
        help="Retries of reflexion/self_refine: sampled (temperature schedule, new seed, repeats drawn "
        "again) or greedy (the first attempt's settings, repeats judged again) [default: sampled].",
    ),
]
RetryTempsOpt = Annotated[
    str | None,
    Opt(
        "--retry-temperatures",
        help="Temperature per retry draw, the last repeats [default: 0.4,0.6,0.8,1.0].",
    ),
]
ResamplesOpt = Annotated[
    int | None,
    Opt(
        "--max-resamples",
        help="Times a trial that repeats earlier code is drawn again before `stuck` [default: 3].",
    ),
]
LevelOpt = Annotated[
    FeedbackLevel | None,
    Opt(
        "--feedback-level",
        help="trace adds the local values at the failing line [default: standard].",
    ),
]
ContextOpt = Annotated[
    RetryContext | None,
    Opt(
        "--retry-context",
        help="revise shows the faulty code back; fresh does not [default: revise].",
    ),
]
JsonOpt = Annotated[bool, Opt("--json", help="Print the final episode record as JSON on stdout.")]


def run(
    task: TaskOpt,
    model: ModelOpt = None,
    base_url: UrlOpt = None,
    api_key: KeyOpt = None,
    reflector_model: RModelOpt = None,
    reflector_base_url: RUrlOpt = None,
    reflector_api_key: RKeyOpt = None,
    strategy: StrategyOpt = None,
    feedback: FeedbackOpt = None,
    max_trials: TrialsOpt = None,
    samples: SamplesOpt = None,
    branching: BranchingOpt = None,
    temperature: TempOpt = None,
    seed: SeedOpt = None,
    budget_tokens: BudgetOpt = None,
    timeout: TimeoutOpt = None,
    memory: MemoryOpt = None,
    memory_window: WindowOpt = None,
    retries: RetriesOpt = None,
    retry_temperatures: RetryTempsOpt = None,
    max_resamples: ResamplesOpt = None,
    feedback_level: LevelOpt = None,
    retry_context: ContextOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Run one episode: the actor writes code, the sandbox judges it, the reflector writes lessons."""
    from rich.console import Console

    from app.llm import ModelOverrides
    from app.settings import get_settings
    from app.wiring import build_episode_models, episode_config, load_task

    settings = get_settings()
    the_task = load_task(task)
    config = episode_config(
        strategy=strategy,
        feedback=feedback,
        max_trials=max_trials,
        samples=samples,
        branching=branching,
        temperature=temperature,
        seed=seed,
        budget_tokens=budget_tokens,
        timeout_s=timeout,
        memory=memory,
        memory_window=memory_window,
        retries=retries,
        retry_temperatures=parse_temperatures(retry_temperatures),
        max_resamples=max_resamples,
        feedback_level=feedback_level,
        retry_context=retry_context,
    )
    refuse_blind_feedback(config, the_task)  # before any model server starts
    actor, reflector, config = build_episode_models(
        settings,
        ModelOverrides(model=model, base_url=base_url, api_key=api_key),
        ModelOverrides(model=reflector_model, base_url=reflector_base_url, api_key=reflector_api_key),
        config,
    )
    refuse_blind_feedback(config, the_task)  # the actor's defaults may have chosen the strategy
    console = Console(stderr=True, highlight=False)
    episode = asyncio.run(execute(settings, the_task, config, actor, reflector, console))
    if json_output:
        sys.stdout.write(episode.model_dump_json(indent=2) + "\n")
        sys.stdout.flush()
    raise typer.Exit({"succeeded": 0, "cancelled": 130}.get(episode.status, 1))


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `rfx` app."""
    app.command("run")(run)
