"""Every Redis key the service uses, spelled in one place (the habit of arq's constants.py).

All keys live under one prefix (`RFX_KEY_PREFIX`, default `rfx`) so that a deployment can share a
Redis, and so tests can use a private prefix and delete exactly what they created. Tenants are part of
every tenant-scoped key: one tenant can never address another's data by guessing an id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "rfx"

    # reflection memory
    def episode_lessons(self, tenant: str, episode_id: str) -> str:
        return f"{self.prefix}:t:{tenant}:mem:ep:{episode_id}"

    def task_lessons(self, tenant: str, task_id: str) -> str:
        return f"{self.prefix}:t:{tenant}:mem:task:{task_id}"

    # episodes
    def episode(self, episode_id: str) -> str:
        return f"{self.prefix}:ep:{episode_id}"

    def episode_events(self, episode_id: str) -> str:
        return f"{self.prefix}:ep:{episode_id}:events"

    def episode_cancel(self, episode_id: str) -> str:
        return f"{self.prefix}:ep:{episode_id}:cancel"

    def tenant_episodes(self, tenant: str) -> str:
        """Sorted set of a tenant's episode ids by creation time (for listing with a cursor)."""
        return f"{self.prefix}:t:{tenant}:episodes"

    def idempotency(self, tenant: str, key: str) -> str:
        return f"{self.prefix}:t:{tenant}:idem:{key}"

    def tenant_active(self, tenant: str) -> str:
        return f"{self.prefix}:t:{tenant}:active"

    def active_episodes(self) -> str:
        """Set of every queued or running episode id, all tenants (backpressure, queue-depth gauge)."""
        return f"{self.prefix}:active"

    def tenant_judge_rate(self, tenant: str, window: int) -> str:
        return f"{self.prefix}:t:{tenant}:judge-rate:{window}"

    # queue
    def job_stream(self) -> str:
        return f"{self.prefix}:jobs"

    def job_group(self) -> str:
        return f"{self.prefix}:workers"

    def stats(self) -> str:
        """Hash of service-wide counters written by workers, read by /metrics (all processes' view)."""
        return f"{self.prefix}:stats"

    def cancel_channel(self) -> str:
        return f"{self.prefix}:cancel"

    def pattern(self) -> str:
        """Glob matching every key under the prefix (cleanup in tests and `rfx` maintenance)."""
        return f"{self.prefix}:*"
