"""The lock in requirements/ is what runs: complete, hashed, one version per package, installed as is.

`make` installs only from the lock, so a dependency added to pyproject.toml without `make lock`, a
pin outside pyproject's bounds, or a view of the lock that drifted from the others would otherwise
show up only on the next fresh machine.
"""

from __future__ import annotations

import tomllib
from importlib import metadata

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from app.llm.local_runtime import RUNTIME_PACKAGE, runtime_lock
from app.lockfile import Pin, lock_path, parse_lock
from app.paths import project_root

VIEWS = ("dev.txt", "service.txt", "local-model.txt")


def pins(view: str) -> list[Pin]:
    return parse_lock(lock_path(view).read_text())


def versions(view: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for pin in pins(view):
        found.setdefault(canonicalize_name(pin.name), set()).add(pin.version)
    return found


def declared(pyproject: str, extras: tuple[str, ...] = ()) -> list[Requirement]:
    project = tomllib.loads((project_root() / pyproject).read_text())["project"]
    lines = [*project["dependencies"]]
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def test_the_lock_parser_reads_pins_markers_and_hashes() -> None:
    text = (
        "# a header comment\n"
        "numpy==2.4.6 ; python_full_version < '3.12' \\\n"
        "    --hash=sha256:aaa \\\n"
        "    --hash=sha256:bbb\n"
        "    # via matplotlib\n"
        "\n"
        "redis==8.2.0 \\\n"
        "    --hash=sha256:ccc\n"
    )
    numpy, redis = parse_lock(text)
    assert (numpy.name, numpy.version, numpy.marker) == ("numpy", "2.4.6", "python_full_version < '3.12'")
    assert numpy.hashes == ["sha256:aaa", "sha256:bbb"]
    assert "# via" not in numpy.block
    assert (redis.name, redis.version, redis.marker, redis.hashes) == ("redis", "8.2.0", "", ["sha256:ccc"])


@pytest.mark.parametrize("view", VIEWS)
def test_every_pin_is_exact_and_hashed(view: str) -> None:
    found = pins(view)
    assert len(found) > 10
    for pin in found:
        assert Version(pin.version), pin
        assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), pin.name


def test_everything_pyproject_declares_is_locked_within_its_bounds() -> None:
    """A dependency added to pyproject.toml without `make lock` fails here, not on a fresh machine."""
    locked = versions("dev.txt")
    wanted = declared("pyproject.toml", ("dev",)) + declared("clients/python/pyproject.toml")
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in requirements/dev.txt: run make lock"
        assert any(requirement.specifier.contains(v) for v in locked[name]), (requirement, locked[name])
    model = versions("local-model.txt")
    for requirement in declared("pyproject.toml", ("local-model",))[len(declared("pyproject.toml")) :]:
        assert any(requirement.specifier.contains(v) for v in model[canonicalize_name(requirement.name)])


@pytest.mark.parametrize("view", ["service.txt", "local-model.txt", "sandbox.txt"])
def test_the_views_share_one_resolution(view: str) -> None:
    """The images and the local model's runtime get the very versions the tests ran in .venv."""
    dev = versions("dev.txt")
    for name, pinned in versions(view).items():
        if name in dev:
            assert pinned <= dev[name], (view, name, pinned, dev[name])


def test_this_venv_runs_the_locked_versions() -> None:
    """What `make` installed is the lock, not whatever an index served that day."""
    for pin in pins("dev.txt"):
        if pin.marker and not Marker(pin.marker).evaluate():
            continue
        assert metadata.version(pin.name) == pin.version, pin.name


def test_the_local_runtime_is_built_from_the_locked_sdist() -> None:
    lock = runtime_lock()
    (pin,) = [p for p in pins("local-model.txt") if p.name == RUNTIME_PACKAGE]
    assert lock.version == pin.version
    assert lock.sdist == pin.block and "--hash=sha256:" in lock.sdist
    assert RUNTIME_PACKAGE not in {p.name for p in parse_lock(lock.dependencies)}
    assert {p.name for p in parse_lock(lock.dependencies)} == {p.name for p in pins("local-model.txt")} - {
        RUNTIME_PACKAGE
    }
