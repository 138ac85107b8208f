"""Provider presets: where the common OpenAI-compatible servers listen by default.

A preset saves typing a base URL (and, for hosted vendors, names the environment variable holding
the key). Any other compatible vendor works by giving its base URL directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.llm.local_weights import WEIGHTS


@dataclass(frozen=True)
class Preset:
    name: str
    base_url: str
    api_key_env: str | None = None
    model: str | None = None  # a default model, only where the server has exactly one
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    hosted: bool = False


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        # OpenAI's newer models take only max_completion_tokens; the older ones accept it too.
        Preset(
            "openai",
            "https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            max_tokens_param="max_completion_tokens",
            hosted=True,
        ),
        Preset("ollama", "http://127.0.0.1:11434/v1"),
        Preset("vllm", "http://127.0.0.1:8000/v1"),
        Preset("llamacpp", "http://127.0.0.1:8080/v1"),
        Preset("lmstudio", "http://127.0.0.1:1234/v1"),
    )
}

LOCAL = "local"
LOCAL_SIZES = ("0.5b", "1.5b")


def local_alias(size: str) -> str:
    """The model id a bundled size's server answers to (its weights' alias)."""
    return next(spec.alias for spec in WEIGHTS.values() if spec.size == size)


def local_preset(port: int, size: str) -> Preset:
    """The bundled model that `rfx model serve` runs on loopback (llama.cpp, one model alias)."""
    return Preset(LOCAL, f"http://127.0.0.1:{port}/v1", model=local_alias(size))


def bundled_size(provider: str | None, model: str) -> str | None:
    """Which bundled size a configured model is (`local`, `local-0.5b`, ...: the local provider and a
    size's alias, wherever it is served), else None: a model the user configured under another
    provider is theirs, whatever it serves."""
    if provider != LOCAL:
        return None
    return next((size for size in LOCAL_SIZES if local_alias(size) == model), None)


def local_name(size: str) -> str:
    """The name that selects one bundled size whatever the default size is (`local-1.5b`)."""
    return f"{LOCAL}-{size}"


def local_size_of(name: str | None) -> str | None:
    """The bundled size a `local-<size>` name selects, else None."""
    return next((size for size in LOCAL_SIZES if local_name(size) == name), None)


def local_port(base_port: int, default_size: str, size: str) -> int:
    """Each size has its own loopback port so both servers can run at once (a 0.5B actor with a
    1.5B reflector): the default size serves on the configured port, the others on the next ones."""
    others = [s for s in LOCAL_SIZES if s != default_size]
    return base_port if size == default_size else base_port + 1 + others.index(size)


def local_sized_presets(base_port: int, default_size: str) -> dict[str, Preset]:
    """`local-0.5b`, `local-1.5b`: each bundled size by name, on its own port."""
    ports = {size: local_port(base_port, default_size, size) for size in LOCAL_SIZES}
    return {local_name(size): local_preset(ports[size], size) for size in LOCAL_SIZES}


def all_presets(local_port: int, local_size: str) -> dict[str, Preset]:
    return {**PRESETS, LOCAL: local_preset(local_port, local_size)}
