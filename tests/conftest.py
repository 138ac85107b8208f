"""Shared fixtures live in tests/fixtures/ as plugins, one module per kind of real part."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.llm",
    "tests.fixtures.judge",
]
