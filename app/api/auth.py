"""Bearer API keys per tenant, from `RFX_API_KEYS` ("tenant=key,tenant2=key2").

Keys are kept only as SHA-256 digests and compared with `hmac.compare_digest` against every entry
(no early exit), so neither memory dumps nor response timing reveal a key; keys are never logged.
With no keys configured every caller is the `default` tenant, which is why `rfx serve` then binds
to loopback only.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from pydantic import SecretStr

from app.errors import ConfigError, Unauthorized

TENANT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEFAULT_TENANT = "default"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="rfx"'}


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    def __init__(self, entries: list[tuple[str, bytes]]) -> None:
        self._entries = entries

    @classmethod
    def parse(cls, raw: SecretStr | str | None) -> ApiKeys:
        text = raw.get_secret_value() if isinstance(raw, SecretStr) else (raw or "")
        entries: list[tuple[str, bytes]] = []
        for n, item in enumerate(p.strip() for p in text.split(",")):
            if not item:
                continue
            tenant, sep, key = item.partition("=")
            tenant, key = tenant.strip(), key.strip()
            if not sep or not TENANT_RE.match(tenant) or len(key) < 8:
                raise ConfigError(
                    f"RFX_API_KEYS entry {n + 1} must be tenant=key (tenant [A-Za-z0-9_.-], "
                    "key at least 8 characters)"
                )
            entries.append((tenant, _digest(key)))
        return cls(entries)

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    @property
    def tenants(self) -> list[str]:
        return sorted({t for t, _ in self._entries})

    def tenant_for(self, authorization: str | None) -> str:
        if not self.enabled:
            return DEFAULT_TENANT
        if not authorization:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'", headers=CHALLENGE)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <key>'", headers=CHALLENGE)
        presented = _digest(token.strip())
        found: str | None = None
        for tenant, digest in self._entries:
            if hmac.compare_digest(presented, digest) and found is None:
                found = tenant
        if found is None:
            raise Unauthorized("invalid API key", headers=CHALLENGE)
        return found
