"""What the service writes is readable by the office's group, as the umask allows (not 0600)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.files import current_umask, shareable
from router.sheets.write import atomic_path


@pytest.fixture()
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_umask_is_read_without_changing_it(umask_027: None) -> None:
    assert current_umask() == 0o027
    assert current_umask() == 0o027


def test_an_atomic_output_is_group_readable(tmp_path: Path, umask_027: None) -> None:
    dest = tmp_path / "分办结果.xlsx"
    with atomic_path(dest) as tmp:
        tmp.write_bytes(b"x")
    assert mode(dest) == 0o640


def test_usual_umask_gives_0644(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        dest = tmp_path / "out.csv"
        with atomic_path(dest) as tmp:
            tmp.write_text("a")
        assert mode(dest) == 0o644
        folder = tmp_path / "v"
        folder.mkdir(mode=0o700)
        shareable(folder, directory=True)
        assert mode(folder) == 0o755
    finally:
        os.umask(old)


def test_a_model_version_is_group_readable(
    tmp_path: Path, small_trained_home: Path, umask_027: None
) -> None:
    """What ``router train`` writes once the model is fitted: a new version, then the pointer
    (the session's model saved again, so no training here)."""
    from router.learn.registry import Registry

    loaded = Registry(small_trained_home / "models").load()
    registry = Registry(tmp_path / "models")
    version = registry.save(loaded.model, loaded.metadata, {})
    registry.promote(version, reason="train")
    root = registry.root
    assert mode(root / version) == 0o750
    assert mode(root / version / "metadata.json") in (0o640, 0o644)
    assert mode(root / "current") == 0o640
