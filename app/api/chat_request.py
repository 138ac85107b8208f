"""A chat-completion request read as an episode: which actor, which task, which settings.

OpenAI's parameters map onto the episode's own (`temperature`, `top_p`, `max_tokens`, `seed`);
system messages become extra instructions for the actor; `rfx` in the body may carry the tests, task
fields and any episode setting. Whatever cannot be honoured is refused naming the parameter.
"""

from __future__ import annotations

from pydantic import ValidationError

from app.api.chat_task import ChatTask, read_task
from app.api.deps import ModelCatalog
from app.api.openai_schemas import MODEL_PREFIX, ChatRequest, OpenAIError
from app.reflexion.models import EpisodeConfig, Task

_PARAMS = ("temperature", "top_p", "seed")


def refuse_unsupported(body: ChatRequest) -> None:
    refused = body.refused()
    if refused is not None:
        raise OpenAIError(
            400,
            f"{refused} is not supported: this model answers with one judged, repaired code reply",
            param=refused,
            code="unsupported_parameter",
        )


def _validation(exc: ValidationError, prefix: str) -> OpenAIError:
    error = exc.errors()[0]
    param = prefix + ".".join(str(p) for p in error["loc"])
    return OpenAIError(400, f"{param}: {error['msg']}", param=param or None, code="invalid_value")


def actor_of(model: str, models: ModelCatalog) -> str:
    if model == MODEL_PREFIX:
        return models.actor(None)
    name = model.removeprefix(MODEL_PREFIX + "/")
    if model.startswith(MODEL_PREFIX + "/") and name in models.names():
        return models.actor(name)
    raise OpenAIError(
        404,
        f"the model {model!r} does not exist here: this service answers only as 'reflexion' or "
        f"'reflexion/<configured model>' (GET /v1/models lists them); it is not a proxy",
        param="model",
        code="model_not_found",
    )


def episode_input(body: ChatRequest) -> tuple[ChatTask, EpisodeConfig]:
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise OpenAIError(400, "messages: no user message holds a task", param="messages")
    rfx = body.rfx
    chat = read_task(users[-1].text(), tests=rfx.tests if rfx else None)
    if rfx is not None and rfx.task is not None:
        fields = rfx.task.model_dump(exclude_none=True)
        try:
            task = Task.model_validate({**chat.task.model_dump(), **fields})
        except ValidationError as exc:
            raise _validation(exc, "rfx.task.") from None
        chat = ChatTask(task, chat.feedback, chat.tests_source)
    base = rfx.config if rfx is not None and rfx.config is not None else EpisodeConfig()
    values = base.model_dump(exclude_unset=True)
    values.setdefault("feedback", chat.feedback)
    for name in _PARAMS:
        if getattr(body, name) is not None:
            values[name] = getattr(body, name)
    max_tokens = body.max_completion_tokens or body.max_tokens
    if max_tokens is not None:
        values["max_tokens"] = max_tokens
    system = [m.text() for m in body.messages if m.role in ("system", "developer") and m.text().strip()]
    if system:
        values["instructions"] = "\n\n".join([*system, values.get("instructions", "")]).strip()
    try:
        return chat, EpisodeConfig.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        param = field if field in (*_PARAMS, "max_tokens") else f"rfx.config.{field}"
        raise OpenAIError(400, f"{param}: {error['msg']}", param=param, code="invalid_value") from None
