"""The model registry: versioned artifacts under ``models/``, each with metadata and checksums.

Layout::

    models/current             the version that serves (one line)
    models/history.jsonl       every promotion, for rollback and audit
    models/<version>/model.npz, metadata.json, metrics.json, plots

A version is written to a temporary folder and renamed into place, so a crash never leaves a
half-written version; the ``current`` pointer is replaced atomically. The artifact is the
fitted model as plain arrays (:mod:`router.core.scorer`), never a pickle, so loading it cannot
run code and needs no scikit-learn. Loading checks the artifact's checksum and the
segmenter it was built with, and only ever reads a folder inside the registry.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router import __version__
from router.core import artifact as scorer_file
from router.core.scorer import ScorerError
from router.files import shareable
from router.learn.fit import ModelConfig, TextModel

ARTIFACT = "model.npz"
LEGACY_ARTIFACT = "model.joblib"  # a pickle of scikit-learn objects, as first written
METADATA = "metadata.json"
METRICS = "metrics.json"
_VERSION_RE = re.compile(r"^v\d{8}-\d{6}(?:-[a-z0-9]{1,12})?$")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RegistryError(RuntimeError):
    """A model cannot be loaded or promoted; the message says why and what to do."""


def library_versions() -> dict[str, str]:
    """Versions from package metadata, without importing the packages (scikit-learn is slow)."""
    from importlib.metadata import version

    return {
        "router": __version__,
        "python": platform.python_version(),
        **{name: version(name) for name in ("scikit-learn", "numpy", "scipy", "jieba", "rjieba")},
    }


# A mismatch in these refuses the load: another segmenter could cut words differently from
# the one the vocabulary was learned with.
_MUST_MATCH = ("rjieba", "jieba")


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: TextModel
    metadata: dict[str, Any]
    path: Path


def now_version(tag: str = "") -> str:
    stamp = datetime.now(UTC).strftime("v%Y%m%d-%H%M%S")
    return f"{stamp}-{tag}" if tag else stamp


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    # -- reading -------------------------------------------------------------------------
    def _dir(self, version: str) -> Path:
        if not _VERSION_RE.match(version):
            raise RegistryError(f"模型版本号格式不对：{version!r}")
        path = (self.root / version).resolve()
        if path.parent != self.root:
            raise RegistryError(f"拒绝读取注册表以外的文件：{version!r}")
        return path

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and _VERSION_RE.match(p.name)
        )

    def current(self) -> str | None:
        pointer = self.root / "current"
        if not pointer.is_file():
            return None
        version = pointer.read_text(encoding="utf-8").strip()
        return version or None

    def metadata(self, version: str) -> dict[str, Any]:
        path = self._dir(version) / METADATA
        if not path.is_file():
            raise RegistryError(f"模型 {version} 不存在或不完整。")
        return _read_json(path, version)

    def metrics(self, version: str) -> dict[str, Any]:
        path = self._dir(version) / METRICS
        if not path.is_file():
            return {}
        return _read_json(path, version)

    def load(self, version: str | None = None) -> LoadedModel:
        version = version or self.current()
        if version is None:
            raise RegistryError("注册表中没有正在服务的模型。请先运行 router train。")
        folder = self._dir(version)
        meta = self.metadata(version)
        artifact = folder / ARTIFACT
        if not artifact.is_file():
            if (folder / LEGACY_ARTIFACT).is_file():
                raise RegistryError(
                    f"模型 {version} 是旧格式（{LEGACY_ARTIFACT}），本版本不再读取。请重新训练（router train）。"
                )
            raise RegistryError(f"模型 {version} 缺少文件 {ARTIFACT}。")
        raw = artifact.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != meta.get("artifact_sha256"):
            raise RegistryError(f"模型 {version} 的校验和不符，文件可能已损坏或被改动，拒绝加载。")
        have = library_versions()
        built = meta.get("versions")
        if not isinstance(built, dict):
            built = {}
        wrong = [
            f"{k} {built.get(k)}（当前 {have[k]}）" for k in _MUST_MATCH if built.get(k) != have[k]
        ]
        if wrong:
            raise RegistryError(
                f"模型 {version} 由不同版本的库训练：{'；'.join(wrong)}。请用当前环境重新训练（router train）。"
            )
        try:
            config = ModelConfig.from_dict(meta["config"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RegistryError(
                f"模型 {version} 的 {METADATA} 缺少或写错了模型配置（config），拒绝加载。"
            ) from exc
        try:
            scorer = scorer_file.load(raw)  # the very bytes whose checksum was verified
        except ScorerError as exc:
            raise RegistryError(f"模型 {version} 无法读取：{exc}") from exc
        return LoadedModel(version, TextModel(scorer, config), meta, folder)

    # -- writing -------------------------------------------------------------------------
    def save(
        self,
        model: TextModel,
        metadata: dict[str, Any],
        metrics: dict[str, Any],
        extra_files: Callable[[Path], None] | None = None,
        tag: str = "",
    ) -> str:
        """Write a new version atomically and return its name; does not promote it."""
        self.root.mkdir(parents=True, exist_ok=True)
        version = now_version(tag)
        while (self.root / version).exists():
            version = now_version(tag + "b" if tag else "b")
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        shareable(tmp, directory=True)
        try:
            scorer_file.save(model.scorer, tmp / ARTIFACT)
            meta = {
                **metadata,
                "version": version,
                "config": model.config.to_dict(),
                "classes": list(model.classes),
                "versions": library_versions(),
                "artifact_sha256": file_sha256(tmp / ARTIFACT),
                "artifact_bytes": (tmp / ARTIFACT).stat().st_size,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            _write_json(tmp / METADATA, meta)
            _write_json(tmp / METRICS, metrics)
            if extra_files is not None:
                extra_files(tmp)
            os.rename(tmp, self.root / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return version

    def promote(
        self,
        version: str,
        *,
        forced: bool = False,
        reason: str = "",
        by: str = "",
        kind: str = "promote",
    ) -> None:
        """Point ``current`` at a version (atomic) and record who did it, when and why."""
        self.load(version)  # refuses a broken or incompatible artifact before it can serve
        previous = self.current()
        _atomic_write(self.root / "current", version + "\n")
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "version": version,
            "previous": previous,
            "forced": forced,
            "reason": reason,
            "by": by or default_actor(),
            "kind": kind,
        }
        with (self.root / "history.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def history(self) -> list[dict[str, Any]]:
        path = self.root / "history.jsonl"
        if not path.is_file():
            return []
        try:
            entries = [
                json.loads(line)
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()
            ]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RegistryError(f"模型启用记录 {path} 已损坏，无法读取：{exc}") from exc
        if not all(isinstance(e, dict) and "version" in e for e in entries):
            raise RegistryError(f"模型启用记录 {path} 已损坏：有的行不是启用记录。")
        return entries

    def chain(self) -> list[dict[str, Any]]:
        """The promotion chain that leads to the serving version, oldest first.

        Each promotion pushes a version; each rollback pops one, so rolling back twice goes
        two steps back. Entries are the history's own (who, when, why).
        """
        stack: list[dict[str, Any]] = []
        for entry in self.history():
            if _is_rollback(entry):
                while stack and stack[-1]["version"] != entry["version"]:
                    stack.pop()
                if not stack:  # the target was promoted before the history began
                    stack.append(entry)
            elif stack and stack[-1]["version"] == entry["version"]:
                stack[-1] = entry  # promoted again while serving: one step, the latest record
            else:
                stack.append(entry)
        current = self.current()
        if current is not None and (not stack or stack[-1]["version"] != current):
            stack.append({"version": current, "reason": "（指针被直接修改）"})
        return stack

    def promoted_versions(self) -> set[str]:
        return {str(e["version"]) for e in self.history()}

    def rollback(self, *, by: str = "") -> str:
        """Serve the version before the current one in the promotion chain (a step back)."""
        chain = self.chain()
        if len(chain) < 2:
            raise RegistryError("没有可以回退到的上一个版本。")
        current, target = str(chain[-1]["version"]), str(chain[-2]["version"])
        self.promote(target, reason=f"回退自 {current}", by=by, kind="rollback")
        return target

    def status(self, version: str) -> dict[str, Any]:
        """Where a version stands: serving, pending or held (a candidate never promoted),
        served (before), or registered; with its last promotion (who, when, why)."""
        meta = self.metadata(version)
        retrain = meta.get("retrain") or {}
        entries = [e for e in self.history() if e.get("version") == version]
        last = entries[-1] if entries else None
        if version == self.current():
            state = "serving"
        elif last is not None:
            state = "served"
        elif retrain.get("status") in ("pending", "held"):
            state = str(retrain["status"])
        else:
            state = "registered"
        return {
            "version": version,
            "state": state,
            "created_at": meta.get("created_at"),
            "held_reasons": list(retrain.get("held_reasons") or []),
            "serving_version": retrain.get("serving_version"),
            "promoted_at": last.get("at") if last else None,
            "promoted_by": last.get("by") if last else None,
            "promoted_reason": last.get("reason") if last else None,
            "forced": bool(last.get("forced")) if last else False,
        }


def _is_rollback(entry: dict[str, Any]) -> bool:
    return entry.get("kind") == "rollback" or str(entry.get("reason", "")).startswith("rollback")


def default_actor() -> str:
    """Who runs this process, by the operating system's account name."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "未知用户"


def _read_json(path: Path, version: str) -> dict[str, Any]:
    """A version's JSON record, or a RegistryError saying it is damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(
            f"模型 {version} 的 {path.name} 已损坏，无法读取（{type(exc).__name__}），拒绝使用。"
            "请重新训练，或启用其他版本。"
        ) from exc
    if not isinstance(data, dict):
        raise RegistryError(f"模型 {version} 的 {path.name} 已损坏（不是 JSON 对象），拒绝使用。")
    return data


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    shareable(tmp)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
