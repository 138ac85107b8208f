"""The Redis client every service process uses (API and workers).

Commands are retried with capped exponential backoff for about fifteen seconds on connection
errors, so a Redis restart (AOF on) is ridden out instead of failing requests and episodes.
"""

from __future__ import annotations

import functools

import redis.asyncio as aredis
from redis import DriverInfo
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.errors import ConfigError
from app.settings import Settings

# redis-py's default pool refuses the 101st concurrent command ("Too many connections"); a worker
# with hundreds of episodes, or an API with many SSE followers (one blocking XREAD each), exceeds
# that. A blocking pool makes a burst wait for a free connection instead of failing.
MAX_CONNECTIONS = 1024
POOL_WAIT_S = 30


@functools.cache
def driver_info() -> DriverInfo:
    """redis-py's CLIENT SETINFO name and version, looked up once per process: left to itself it
    reads the installed package's metadata (importlib.metadata, an email parse) for every new
    connection, paid a hundred times when a burst grows the pool (a worker starting 100 episodes at
    once; bench/load.py shows it in the workers' CPU)."""
    return DriverInfo()


def redis_client(settings: Settings) -> aredis.Redis:
    try:
        pool = aredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT_S,
            socket_connect_timeout=3,
            health_check_interval=30,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=20),
            retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionResetError],
            driver_info=driver_info(),
        )
    except ValueError as exc:
        raise ConfigError(f"RFX_REDIS_URL: {exc}") from None
    return aredis.Redis(connection_pool=pool)
