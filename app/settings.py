"""Service configuration from the environment (prefix `RFX_`), via pydantic-settings.

Flat names keep the environment obvious: `RFX_ACTOR_MODEL`, `RFX_JUDGE_MODE`, `RFX_REDIS_URL`.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.reflexion.models import JudgeLimits
from app.sandbox_defaults import SANDBOX_BASE_IMAGE


def _limit(name: str) -> Any:
    """A flat RFX_JUDGE_* setting with the domain's own default and bounds (JudgeLimits.<name>), so
    a value the judge would refuse is refused when the settings are read, with the setting's name."""
    return copy.copy(JudgeLimits.model_fields[name])


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RFX_", extra="ignore", env_file=None)

    # Redis: every key lives under `key_prefix` (spelled out in app/memory/keys.py).
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "rfx"
    episode_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)

    # LLMs: actor and reflector are configured separately (weak-to-strong); the reflector
    # falls back to the actor's settings field by field.
    actor_provider: str | None = None
    actor_base_url: str | None = None
    actor_model: str | None = None
    actor_api_key: SecretStr | None = None
    reflector_provider: str | None = None
    reflector_base_url: str | None = None
    reflector_model: str | None = None
    reflector_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=120.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
    config: Path | None = None  # RFX_CONFIG: TOML file naming more providers/models

    # Judge (sandbox)
    judge_mode: Literal["pooled", "fresh"] = "pooled"
    judge_runtime: Literal["runc", "runsc"] = "runc"
    judge_workers: int = Field(default=2, ge=1, le=64)
    judge_timeout: float = _limit("timeout_s")
    judge_memory_mb: int = _limit("memory_mb")
    judge_pids: int = _limit("pids")
    judge_output_bytes: int = _limit("output_bytes")
    judge_tmpfs_mb: int = _limit("tmpfs_mb")
    judge_cpus: float = _limit("cpus")
    # A pooled container's start and close cost far more host CPU than a judgement, so a low count
    # shows up in every judgement's cost (bench/judge_cpu.py, bench/load.py). Each run is cleaned up on
    # its own (every process killed, scratch wiped, a fresh harness); recycling by count is a backstop.
    judge_recycle_after: int = Field(default=1000, ge=1)
    judge_image: str | None = None  # default: the content-addressed tag of sandbox/
    judge_base_image: str = SANDBOX_BASE_IMAGE

    # HTTP service
    api_keys: SecretStr | None = None  # "tenant=key,tenant2=key2"
    host: str = "127.0.0.1"
    port: int = 8000
    # Service: quotas, backpressure, queue leases (app/api, app/queue).
    quota_episodes: int = Field(default=1000, ge=1)  # queued + running episodes per tenant
    quota_judge_per_min: int = Field(default=600, ge=1)  # POST /v1/judge calls per tenant per minute
    queue_max: int = Field(default=100_000, ge=1)  # active episodes over all tenants before 503
    api_judge_workers: int = Field(default=1, ge=1, le=16)  # the API's own /judge pool (apart from workers')
    api_judge_waiting: int = Field(default=4, ge=0, le=1000)  # /judge calls that may wait for it
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    lease_s: float = Field(default=30.0, ge=1, le=3600)  # a worker's claim on a job lapses after this
    max_deliveries: int = Field(default=5, ge=1, le=100)  # claims of one episode before it is failed
    worker_concurrency: int = Field(default=4, ge=1, le=1000)
    worker_grace_s: float = Field(default=20.0, ge=0, le=3600)  # SIGTERM: finish running episodes within
    # a worker's heartbeat or cancel listener that cannot reach Redis for this long gives up, and the
    # worker exits non-zero for its supervisor to restart (its leases have lapsed by then anyway)
    redis_give_up_s: float = Field(default=120.0, ge=1, le=24 * 3600)

    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("reflexion-service")))

    # The bundled local model (rfx model ...): llama.cpp's OpenAI-compatible server on loopback.
    local_model_port: int = Field(default=8089, ge=1, le=65535)
    local_model_size: Literal["0.5b", "1.5b"] = "0.5b"
    # llama.cpp threads; default half the cores: its threads spin-wait on each other, so on a busy
    # host a thread per core stalls generation instead of speeding it up (tokens/s of `rfx model serve`).
    local_model_threads: int | None = Field(default=None, ge=1, le=256)

    def judge_limits(self) -> JudgeLimits:
        """The default per-run limits, from the flat RFX_JUDGE_* settings."""
        return JudgeLimits(
            timeout_s=self.judge_timeout,
            memory_mb=self.judge_memory_mb,
            pids=self.judge_pids,
            output_bytes=self.judge_output_bytes,
            tmpfs_mb=self.judge_tmpfs_mb,
            cpus=self.judge_cpus,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
