"""OpenAI-compatible LLM adapters: provider configs and presets, the chat model, the fake server."""

from __future__ import annotations

from app.llm.config import ProviderConfig
from app.llm.openai_chat import OpenAIChatModel
from app.llm.providers import ModelOverrides, ModelRegistry, build_chat_models

__all__ = ["ModelOverrides", "ModelRegistry", "OpenAIChatModel", "ProviderConfig", "build_chat_models"]
