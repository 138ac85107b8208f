"""The sandbox image, built here with no registry: debootstrap base + sandbox/Dockerfile on top.

The tag is content-addressed (hash of every file under sandbox/ plus the base image's id), so an
unchanged tree maps to an existing tag and a rebuild is skipped in well under a second, while any
edit to the runner produces a new tag that no stale container can be mistaken for.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import docker
import docker.errors

from app.errors import SandboxError
from app.judge.wheels import check_vendored_wheels
from app.paths import sandbox_dir

IMAGE_REPO = "rfx-sandbox"
DEBIAN_SUITE = "bookworm"


def docker_client() -> docker.DockerClient:
    """A client for the local engine, or one clear SandboxError if there is none."""
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as exc:
        detail = _first_line(exc)
        raise SandboxError(f"Docker engine is not reachable (is dockerd running?): {detail}") from None
    return client


def sandbox_tree_digest(directory: Path | None = None) -> str:
    """sha256 over the relative paths and bytes of every file under sandbox/ (caches excluded)."""
    root = directory or sandbox_dir()
    if not root.is_dir():
        raise SandboxError(f"sandbox build context {root} does not exist")
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _image_id(client: docker.DockerClient, name: str) -> str | None:
    try:
        return str(client.images.get(name).id)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        raise SandboxError(f"cannot inspect image {name}: {_first_line(exc)}") from None


def sandbox_image_tag(
    base_image: str,
    client: docker.DockerClient | None = None,
    tree_digest: str | None = None,
) -> str:
    """The tag the sandbox image has (or will have) for the sandbox/ tree and base image.

    `tree_digest`: sandbox_tree_digest() computed earlier (the tree is hashed otherwise)."""
    client = client or docker_client()
    base_id = _image_id(client, base_image)
    if base_id is None:
        raise SandboxError(f"base image {base_image} does not exist: run `rfx sandbox build`")
    digest = hashlib.sha256(f"{tree_digest or sandbox_tree_digest()}\n{base_id}".encode()).hexdigest()
    return f"{IMAGE_REPO}:{digest[:16]}"


def build_base_image(client: docker.DockerClient, name: str) -> None:
    """debootstrap a minimal Debian with python3 and import it as `name` (about 40 s, needs root)."""
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise SandboxError(
            f"base image {name} is missing and debootstrap is not installed "
            "(apt-get install debootstrap, or pass --base-image python:3.12-slim)"
        )
    with tempfile.TemporaryDirectory(prefix="rfx-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        proc = subprocess.run(
            [debootstrap, "--variant=minbase", "--include=python3", DEBIAN_SUITE, str(rootfs)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SandboxError(f"debootstrap failed: {_last_line(proc.stderr or proc.stdout)}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        try:
            client.api.import_image_from_stream(
                tar.stdout, repository=name.split(":")[0], tag=name.split(":")[1] if ":" in name else "latest"
            )
        except docker.errors.APIError as exc:
            raise SandboxError(f"docker import of {name} failed: {_first_line(exc)}") from None
        finally:
            tar.stdout.close()
            tar.wait()
    if _image_id(client, name) is None:
        raise SandboxError(f"docker import did not produce {name}")


def ensure_sandbox_image(image: str | None, base_image: str, *, force: bool = False) -> str:
    """Return the sandbox image tag, building the base and the image only when they are missing.

    `image` wins when set (the operator built or pulled an image of their own: RFX_JUDGE_IMAGE).
    """
    if image and not force:
        return image
    base = base_image
    client = docker_client()
    try:
        if _image_id(client, base) is None:
            if "/" in base or not base.startswith("rfx-"):
                raise SandboxError(f"base image {base} is not present locally (docker pull it first)")
            build_base_image(client, base)
        tag = sandbox_image_tag(base, client)
        if _image_id(client, tag) is not None and not force:
            return tag
        check_vendored_wheels()
        try:
            client.images.build(
                path=str(sandbox_dir()),
                tag=tag,
                buildargs={"BASE_IMAGE": base},
                rm=True,
                forcerm=True,
                pull=False,
                labels={"rfx.sandbox": "1", "rfx.base-image": base},
            )
        except docker.errors.BuildError as exc:
            raise SandboxError(f"sandbox image build failed: {_first_line(exc)}") from None
        except docker.errors.APIError as exc:
            raise SandboxError(f"sandbox image build failed: {_first_line(exc)}") from None
        return tag
    finally:
        client.close()


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).strip().splitlines()[:1]) or type(exc).__name__


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
