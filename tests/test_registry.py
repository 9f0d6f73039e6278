from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from router.learn.load import ensure_model
from router.learn.registry import ARTIFACT, LEGACY_ARTIFACT, Registry, RegistryError
from router.settings import Settings
from tests.conftest import copy_models


@pytest.mark.slow  # trains the full default model
def test_first_use_trains_and_promotes(fresh_home: Settings) -> None:
    messages: list[str] = []
    version = ensure_model(fresh_home, messages.append)
    registry = Registry(fresh_home.models_path)
    assert registry.current() == version
    assert any("还没有模型" in m for m in messages)
    meta = registry.metadata(version)
    for key in ("versions", "artifact_sha256", "classes", "config", "trained_on", "train_seconds"):
        assert key in meta
    assert meta["trained_on"]["files"][0]["sha256"]
    assert set(meta["versions"]) >= {"scikit-learn", "jieba", "python", "router"}
    assert (registry.root / version / "confusion_matrix.png").is_file()
    assert ensure_model(fresh_home, messages.append) == version  # no second training


@pytest.fixture()
def one_version(fresh_home: Settings, small_trained_home: Path) -> tuple[Registry, str]:
    """A registry holding one promoted version: a copy of the session's (training is tested
    above)."""
    version, _ = copy_models(small_trained_home, fresh_home)
    assert ensure_model(fresh_home) == version
    return Registry(fresh_home.models_path), version


def test_tampered_artifact_is_refused(one_version: tuple[Registry, str]) -> None:
    registry, version = one_version
    artifact = registry.root / version / ARTIFACT
    artifact.write_bytes(artifact.read_bytes() + b"x")
    with pytest.raises(RegistryError, match="校验和不符"):
        registry.load(version)


def test_other_library_version_is_refused(one_version: tuple[Registry, str]) -> None:
    registry, version = one_version
    meta_path = registry.root / version / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["versions"]["rjieba"] = "0.1.0"
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(RegistryError, match="rjieba 0.1.0"):
        registry.load(version)


def test_an_artifact_of_the_old_pickle_format_is_refused_with_what_to_do(
    one_version: tuple[Registry, str],
) -> None:
    registry, version = one_version
    folder = registry.root / version
    (folder / ARTIFACT).rename(folder / LEGACY_ARTIFACT)
    with pytest.raises(RegistryError, match="旧格式.*router train"):
        registry.load(version)


def test_a_damaged_artifact_with_a_matching_checksum_is_refused(
    one_version: tuple[Registry, str],
) -> None:
    """Arrays only: a file that is not a scorer fails cleanly instead of running anything."""
    registry, version = one_version
    artifact = registry.root / version / ARTIFACT
    artifact.write_bytes(b"PK\x03\x04 not really a zip")
    meta_path = registry.root / version / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["artifact_sha256"] = hashlib.sha256(artifact.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(RegistryError, match="无法读取"):
        registry.load(version)


@pytest.mark.parametrize("name", ["../etc", "/tmp/x", "v20260101-000000/../../x", "latest"])
def test_names_outside_the_registry_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(RegistryError):
        Registry(tmp_path).load(name)


def test_empty_registry_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="router train"):
        Registry(tmp_path).load()


def test_promote_and_rollback(fresh_home: Settings, small_two_versions_home: Path) -> None:
    first, (second,) = copy_models(small_two_versions_home, fresh_home)
    registry = Registry(fresh_home.models_path)
    assert registry.current() == first
    registry.promote(second)
    assert registry.current() == second
    assert registry.rollback() == first
    assert registry.current() == first
    assert [h["version"] for h in registry.history()] == [first, second, first]


def test_rollback_walks_back_along_the_promotion_chain(one_version: tuple[Registry, str]) -> None:
    """Twice is two steps back, not back to the newer version (issue 14)."""
    registry, first = one_version
    loaded = registry.load(first)
    second = registry.save(loaded.model, {}, {}, tag="b")
    third = registry.save(loaded.model, {}, {}, tag="c")
    registry.promote(second, by="张三", reason="人工启用")
    registry.promote(third, by="李四", reason="重训练")
    assert [e["version"] for e in registry.chain()] == [first, second, third]
    assert registry.rollback(by="王五") == second
    assert registry.rollback(by="王五") == first
    assert registry.current() == first
    with pytest.raises(RegistryError, match="没有可以回退"):
        registry.rollback()
    last = registry.history()[-1]
    assert last["by"] == "王五" and last["kind"] == "rollback" and last["previous"] == second
    registry.promote(third, by="赵六")
    assert [e["version"] for e in registry.chain()] == [first, third]
    assert registry.status(third)["promoted_by"] == "赵六"
    assert registry.status(second)["state"] == "served"


def test_promotion_records_the_os_user_when_nobody_is_named(
    one_version: tuple[Registry, str],
) -> None:
    import getpass

    registry, first = one_version
    registry.promote(first)
    assert registry.history()[-1]["by"] == getpass.getuser()
    assert registry.history()[-1]["at"]


def test_failed_save_leaves_no_folder(one_version: tuple[Registry, str]) -> None:
    registry, version = one_version
    loaded = registry.load(version)

    def boom(_folder: Path) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        registry.save(loaded.model, {}, {}, boom)
    assert registry.versions() == [version]
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".tmp-")]
