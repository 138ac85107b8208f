"""The client distribution's models against the schema the service serves, so the twins cannot drift.

`reflexion_client` mirrors the service's records without importing `app` (apps never install the
service). The price of a mirror is drift; this test reads `/openapi.json` from a running server over
real HTTP and checks every mirrored model field by field: the name exists, the JSON type agrees, an
enumeration agrees, and the request the client builds requires exactly what the server requires.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from reflexion_client import models as client

from tests.fixtures.services import RedisServer
from tests.integration.apiserver import ThreadedApp, service_settings

# client model -> the component of the served schema it mirrors
MIRRORS: dict[type[BaseModel], str] = {
    client.Task: "Task",
    client.Usage: "Usage",
    client.TestResult: "TestResult",
    client.Verdict: "Verdict",
    client.Attempt: "Attempt",
    client.EpisodeTask: "Task",
    client.Episode: "Episode",
    client.EpisodePage: "EpisodePage",
}


@pytest.fixture(scope="module")
def served_schema(redis_server: RedisServer, sandbox_image: str) -> Iterator[dict[str, Any]]:
    prefix = f"rfxtest:{uuid.uuid4().hex[:10]}"
    with ThreadedApp(service_settings(redis_server.url, prefix, judge_image=sandbox_image)) as app:
        response = httpx.get(f"{app.url}/openapi.json", timeout=30)
    assert response.status_code == 200
    yield response.json()["components"]["schemas"]


def json_types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """The JSON types a property admits, null aside (Optional is a client's own choice)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return json_types(defs[name], defs) if name in defs else {"object"}
    if "anyOf" in schema:
        return set().union(*(json_types(option, defs) for option in schema["anyOf"])) - {"null"}
    if "const" in schema or "enum" in schema:
        return {"string"} if schema.get("type", "string") == "string" else {schema["type"]}
    kind = schema.get("type")
    if kind is None:  # Any
        return {"any"}
    types = set(kind) if isinstance(kind, list) else {kind}
    return ({"number"} if types == {"integer", "number"} else types) - {"null"}


def enum_of(schema: dict[str, Any]) -> set[str] | None:
    for option in [schema, *schema.get("anyOf", [])]:
        if "enum" in option:
            return set(option["enum"])
    return None


@pytest.mark.parametrize("model", MIRRORS, ids=lambda model: model.__name__)
def test_every_mirrored_field_matches_the_served_schema(
    model: type[BaseModel], served_schema: dict[str, Any]
) -> None:
    server = served_schema[MIRRORS[model]]
    mine = model.model_json_schema(mode="serialization" if model is not client.Task else "validation")
    defs = mine.get("$defs", {})
    for name, field in mine["properties"].items():
        assert name in server["properties"], f"{model.__name__}.{name} is not in the served {MIRRORS[model]}"
        theirs = server["properties"][name]
        client_types, server_types = json_types(field, defs), json_types(theirs, served_schema)
        if "any" not in client_types:
            assert client_types == server_types, (model.__name__, name, client_types, server_types)
        if (mine_enum := enum_of(field)) is not None:
            assert mine_enum == enum_of(theirs), (model.__name__, name)


def test_the_task_a_client_builds_requires_what_the_server_requires(served_schema: dict[str, Any]) -> None:
    mine = client.Task.model_json_schema()
    assert set(mine["required"]) == set(served_schema["Task"]["required"])


def test_the_comparison_sees_a_drift(served_schema: dict[str, Any]) -> None:
    """A field the server does not have, or of another type, is caught (the check above can fail)."""

    class Drifted(client.Usage):
        prompt_tokens: str = ""  # type: ignore[assignment]

    field = Drifted.model_json_schema(mode="serialization")["properties"]["prompt_tokens"]
    theirs = served_schema["Usage"]["properties"]["prompt_tokens"]
    assert json_types(field, {}) != json_types(theirs, served_schema)
    assert "colour" not in served_schema["Usage"]["properties"]
