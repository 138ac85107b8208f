"""Self-training data from stored episodes: SFT (ReST-EM), preference pairs (DPO) and SPIN pairs.

Why the hidden verdict decides every label: it is the only verdict the model never saw, so it is the
binary reward of ReST-EM (Singh et al. 2023). A record never carries an attempt whose hidden verdict
disagrees with its role: `chosen`/`preferred`/SFT targets passed the hidden tests, `rejected`/
`non_preferred`/SPIN `generated` failed them, SPIN `real` is the dataset's reference solution.

The prompt of every record is the actor's first-trial prompt for the task (prompts/actor/system.md and
prompts/actor/initial.md with no tests and no lessons): the question a fine-tuned model will be asked,
the same for every attempt at one task, so pairs from different strategies share it. The answer is the
attempt's code in one ```python block, the shape the actor prompt asks for.

Schemas (one JSON object per line; `Message` is `{"role": "system"|"user"|"assistant", "content": str}`):
- `sft`: `{"messages": [system, user, assistant]}` (OpenAI chat fine-tuning; TRL SFTTrainer).
- `dpo`: `{"prompt": [system, user], "chosen": [assistant], "rejected": [assistant]}` (TRL DPOTrainer,
  conversational preference format).
- `openai-dpo`: `{"input": {"messages": [system, user]}, "preferred_output": [assistant],
  "non_preferred_output": [assistant]}` (OpenAI preference fine-tuning).
- `spin`: `{"prompt": [system, user], "real": [system, user, assistant], "generated": [system, user,
  assistant], "chosen": [assistant], "rejected": [assistant]}`: SPIN's real/generated conversations
  (Chen et al. 2024), plus the same pair as TRL's chosen/rejected since SPIN's loss is DPO's.
Pairs: each distinct failing attempt of a task is paired once with a distinct passing one (cycling
through the passing ones), so no rejected answer is repeated. SPIN pairs every distinct failing attempt
with the reference (a passing attempt is as good as the reference under a binary reward, so it is not
pushed away). Everything is deduplicated on (task, code) after trailing whitespace is stripped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.reflexion.conversation import Conversation
from app.reflexion.models import Episode, Task
from app.reflexion.ports import PromptBook

ExportFormat = Literal["sft", "dpo", "openai-dpo", "spin"]
FORMATS: tuple[ExportFormat, ...] = ("sft", "dpo", "openai-dpo", "spin")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(_Record):
    role: Literal["system", "user", "assistant"]
    content: str


class SftRecord(_Record):
    messages: list[Message]


class DpoRecord(_Record):
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]


class OpenAIInput(_Record):
    messages: list[Message]


class OpenAIDpoRecord(_Record):
    input: OpenAIInput
    preferred_output: list[Message]
    non_preferred_output: list[Message]


class SpinRecord(_Record):
    prompt: list[Message]
    real: list[Message]
    generated: list[Message]
    chosen: list[Message]
    rejected: list[Message]


SCHEMAS: dict[ExportFormat, type[_Record]] = {
    "sft": SftRecord,
    "dpo": DpoRecord,
    "openai-dpo": OpenAIDpoRecord,
    "spin": SpinRecord,
}


@dataclass
class TaskAnswers:
    """Distinct graded answers to one task, in the order they were first seen."""

    task: Task
    passed: list[str]
    failed: list[str]


def normalize(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def collect(episodes: Iterable[Episode]) -> list[TaskAnswers]:
    """Group attempts by task; keep only attempts with code and a hidden verdict, deduplicated."""
    by_task: dict[str, TaskAnswers] = {}
    seen: set[tuple[str, str]] = set()
    for episode in episodes:
        entry = by_task.setdefault(episode.task.id, TaskAnswers(episode.task, [], []))
        for attempt in sorted(episode.attempts, key=lambda a: a.trial):
            if not attempt.code.strip() or attempt.hidden is None:
                continue
            code = normalize(attempt.code)
            if (episode.task.id, code) in seen:
                continue
            seen.add((episode.task.id, code))
            (entry.passed if attempt.hidden_passed else entry.failed).append(code)
    return list(by_task.values())


def reference_solution(task: Task) -> str | None:
    """HumanEval's canonical solution is the body that completes the prompt."""
    if not task.canonical_solution:
        return None
    return normalize(task.prompt + task.canonical_solution)


def answer(code: str) -> Message:
    return Message(role="assistant", content=f"```python\n{code}\n```")


def prompt_messages(task: Task, prompts: PromptBook) -> list[Message]:
    chat = Conversation(prompts, {}).actor_initial(task, [], [])
    return [Message(role=m.role, content=m.content) for m in chat]


def records(episodes: Sequence[Episode], fmt: ExportFormat, prompts: PromptBook) -> list[_Record]:
    """The export records of `fmt` for these episodes, in task order of first appearance."""
    out: list[_Record] = []
    for entry in collect(episodes):
        prompt = prompt_messages(entry.task, prompts)
        if fmt == "sft":
            out += [SftRecord(messages=[*prompt, answer(code)]) for code in entry.passed]
        elif fmt == "spin":
            real = reference_solution(entry.task)
            if real is None:
                continue
            for code in entry.failed:
                if code == real:
                    continue
                out.append(
                    SpinRecord(
                        prompt=prompt,
                        real=[*prompt, answer(real)],
                        generated=[*prompt, answer(code)],
                        chosen=[answer(real)],
                        rejected=[answer(code)],
                    )
                )
        elif entry.passed:
            for i, rejected in enumerate(entry.failed):
                chosen = entry.passed[i % len(entry.passed)]
                if fmt == "dpo":
                    out.append(DpoRecord(prompt=prompt, chosen=[answer(chosen)], rejected=[answer(rejected)]))
                else:
                    out.append(
                        OpenAIDpoRecord(
                            input=OpenAIInput(messages=prompt),
                            preferred_output=[answer(chosen)],
                            non_preferred_output=[answer(rejected)],
                        )
                    )
    return out


def write_jsonl(path: Path, rows: Sequence[_Record]) -> None:
    """Write all records or nothing (temp file + rename), one JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(row.model_dump_json() + "\n")
    os.replace(tmp, path)
