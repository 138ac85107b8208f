"""ProviderConfig: everything needed to call one model on one OpenAI-compatible endpoint.

One record per (endpoint, model) so the actor and the reflector can differ in both (weak-to-strong).
A request to the service only ever names a configured model; the URL and key come from here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, description="the name users select it by")
    base_url: str = Field(
        min_length=1, description="OpenAI-compatible API root, e.g. http://127.0.0.1:11434/v1"
    )
    model: str = Field(min_length=1, max_length=200, description="the model id sent to the endpoint")
    api_key: SecretStr | None = None
    provider: str | None = Field(default=None, description="preset it came from, for display only")
    timeout_s: float = Field(default=120.0, gt=0, le=3600, description="per HTTP attempt")
    max_retries: int = Field(default=3, ge=0, le=10, description="SDK retries on 429/5xx/connection errors")
    deadline_s: float | None = Field(
        default=None,
        gt=0,
        le=24 * 3600,
        description="wall-clock limit of one call, retries and waits included",
    )
    price_input_per_1m: float | None = Field(default=None, ge=0, description="USD per 1M prompt tokens")
    price_output_per_1m: float | None = Field(default=None, ge=0, description="USD per 1M completion tokens")
    extra_headers: dict[str, str] = Field(default_factory=dict)
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
            raise ValueError(f"base_url must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    def describe(self) -> str:
        """Name, model and endpoint without the key: safe for logs and error messages."""
        return f"{self.name} (model {self.model} at {self.base_url})"
