"""The optional TOML file named by `RFX_CONFIG`: more models by name, and which ones are the defaults.

    [defaults]
    actor = "small"                 # used when a request or the CLI names no model
    reflector = "gpt-4o-mini"       # falls back to the actor's default

    [models.gpt-4o-mini]
    provider = "openai"             # a preset (base URL + key variable), or give base_url
    api_key_env = "OPENAI_API_KEY"  # the key is read from this variable, never stored in the file
    # model = "gpt-4o-mini"         # the id sent to the endpoint; defaults to the table name

    [models.small]
    base_url = "http://127.0.0.1:8089/v1"
    model = "qwen2.5-coder-0.5b"
    timeout_s = 60                  # also: max_retries, price_input_per_1m, price_output_per_1m,
                                    # extra_headers = {...}, max_tokens_param, api_key (discouraged)

Unknown keys are errors, so a typo is reported instead of silently ignored.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from app.errors import ConfigError


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=3600)
    max_retries: int | None = Field(default=None, ge=0, le=10)
    deadline_s: float | None = Field(default=None, gt=0, le=24 * 3600)
    price_input_per_1m: float | None = Field(default=None, ge=0)
    price_output_per_1m: float | None = Field(default=None, ge=0)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] | None = None


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = None
    reflector: str | None = None


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: Defaults = Field(default_factory=Defaults)
    models: dict[str, ModelEntry] = Field(default_factory=dict)


def load_config_file(path: Path) -> ConfigFile:
    """Read and validate the file; every problem is one ConfigError naming the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"RFX_CONFIG file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read RFX_CONFIG file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"RFX_CONFIG file {path} is not valid TOML: {exc}") from None
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"RFX_CONFIG file {path}: {where}: {first['msg']}") from None
