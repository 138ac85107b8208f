"""The sandbox image: content-addressed tag, skipped rebuilds, hardened defaults baked in."""

from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest

from app.judge import image as image_module
from app.judge.image import ensure_sandbox_image, sandbox_image_tag, sandbox_tree_digest
from app.paths import sandbox_dir
from app.settings import Settings


def test_tag_is_content_addressed_over_the_sandbox_tree(tmp_path: Path) -> None:
    copy = tmp_path / "sandbox"
    shutil.copytree(sandbox_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert sandbox_tree_digest(copy) == sandbox_tree_digest(sandbox_dir())
    (copy / "runner.py").write_text((copy / "runner.py").read_text() + "\n# changed\n")
    assert sandbox_tree_digest(copy) != sandbox_tree_digest(sandbox_dir())


def test_ensure_returns_the_existing_image_without_building(
    sandbox_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("debootstrap should not run when the base image exists")

    monkeypatch.setattr(image_module, "build_base_image", refuse)
    base = Settings().judge_base_image
    assert ensure_sandbox_image(None, base) == sandbox_image == sandbox_image_tag(base)


def test_settings_judge_image_overrides() -> None:
    assert ensure_sandbox_image("my/own:image", Settings().judge_base_image) == "my/own:image"


def test_image_runs_as_nobody_with_the_runner_as_entrypoint(
    sandbox_image: str, docker_client: docker.DockerClient
) -> None:
    config = docker_client.images.get(sandbox_image).attrs["Config"]
    assert config["User"] == "65534:65534"
    assert config["Entrypoint"][-1] == "/opt/rfx/runner.py"


def test_missing_base_image_without_a_registry_is_a_clear_error() -> None:
    from app.errors import SandboxError

    with pytest.raises(SandboxError, match="not present locally"):
        ensure_sandbox_image(None, "example.invalid/python:3.12-slim")
