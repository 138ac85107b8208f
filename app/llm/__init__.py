"""OpenAI-compatible LLM adapters: provider configs and presets, the chat model, the fake server."""

from __future__ import annotations

from app.llm.config import ProviderConfig

__all__ = ["ProviderConfig"]
