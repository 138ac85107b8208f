"""The Redis client every service process uses (API and workers).

Commands are retried with capped exponential backoff for about fifteen seconds on connection
errors, so a Redis restart (AOF on) is ridden out instead of failing requests and episodes.
"""

from __future__ import annotations

import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.errors import ConfigError
from app.settings import Settings


def redis_client(settings: Settings) -> aredis.Redis:
    try:
        return aredis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=3, health_check_interval=30,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=20),
            retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionResetError],
        )
    except ValueError as exc:
        raise ConfigError(f"RFX_REDIS_URL: {exc}") from None
