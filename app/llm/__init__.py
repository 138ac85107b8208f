"""OpenAI-compatible LLM adapters: provider configs and presets, the chat model, the fake server.

Names are imported on first use (PEP 562) so that light users of the package, such as the fake
server started as its own process, do not pay for importing the `openai` SDK (seconds on a busy host).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.llm.config import ProviderConfig
    from app.llm.openai_chat import OpenAIChatModel
    from app.llm.providers import ModelOverrides, ModelRegistry, build_chat_models

_HOMES = {
    "ProviderConfig": "app.llm.config",
    "OpenAIChatModel": "app.llm.openai_chat",
    "ModelOverrides": "app.llm.providers",
    "ModelRegistry": "app.llm.providers",
    "build_chat_models": "app.llm.providers",
}

__all__ = ["ModelOverrides", "ModelRegistry", "OpenAIChatModel", "ProviderConfig", "build_chat_models"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'app.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
