"""`rfx sandbox build|tag|reap`: the judge's container image and its leftovers."""

from __future__ import annotations

import asyncio
import time

import typer

sandbox_app = typer.Typer(
    help="Build the sandbox image; clean up orphaned sandbox containers.", no_args_is_help=True
)


@sandbox_app.command("build")
def build(
    base_image: str | None = typer.Option(
        None,
        "--base-image",
        help="Base image with python3 (default: a local debootstrap "
        "Debian, built if missing) [RFX_JUDGE_BASE_IMAGE].",
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the tag exists."),
) -> None:
    """Build the sandbox image (content-addressed tag; skipped when unchanged) and print its tag."""
    from app.judge.image import ensure_sandbox_image
    from app.settings import Settings

    settings = Settings()
    started = time.monotonic()
    tag = ensure_sandbox_image(None, base_image or settings.judge_base_image, force=force)
    typer.echo(tag)
    typer.echo(f"sandbox image ready in {time.monotonic() - started:.1f} s", err=True)


@sandbox_app.command("tag")
def tag(
    base_image: str | None = typer.Option(None, "--base-image", help="Base image [RFX_JUDGE_BASE_IMAGE]."),
) -> None:
    """Print the tag the sandbox image has for the current sandbox/ tree (without building)."""
    from app.judge.image import sandbox_image_tag
    from app.settings import Settings

    typer.echo(sandbox_image_tag(base_image or Settings().judge_base_image))


@sandbox_app.command("reap")
def reap() -> None:
    """Remove sandbox containers left behind by judge processes that no longer run."""
    from app.judge.reaper import reap_orphans

    removed = asyncio.run(reap_orphans("docker"))
    typer.echo(f"removed {len(removed)} orphaned sandbox container(s)", err=True)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `rfx` app."""
    app.add_typer(sandbox_app, name="sandbox")
