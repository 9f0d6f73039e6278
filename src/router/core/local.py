"""Local jurisdiction (本地职责): topics whose handler differs between cities, and the bureau's own
choice for each.

The topics are data (``resources/local_topics.yaml``). The bureau's choices live in one JSON
file beside the registry, versioned: every change appends to its history who made it, when and
why, and a running server picks a change up at its next decision (the file's modification
time is checked, nothing else).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from router import yamltext
from router.core.rules import PairGate

CONTESTED = "此类事项各地分工不同"


class LocalError(ValueError):
    """A local setting that cannot be made; the message is for the user (Chinese)."""


@dataclass(frozen=True)
class Topic:
    id: str
    name: str
    candidates: tuple[str, ...]
    pattern: re.Pattern[str]

    def find(self, text: str) -> list[str]:
        return sorted({m.group(0) for m in self.pattern.finditer(text)})


@dataclass(frozen=True)
class Choice:
    handler: str
    by: str
    at: str
    reason: str = ""
    version: int = 0


@dataclass(frozen=True)
class LocalMatch:
    """A contested topic found in a text, with the bureau's choice when it has made one."""

    topic: Topic
    words: list[str]
    choice: Choice | None


@cache
def load_topics() -> tuple[Topic, ...]:
    raw = yamltext.safe_load(
        resources.files("router.resources").joinpath("local_topics.yaml").read_text("utf-8")
    )
    topics = []
    for t in raw["topics"]:
        topics.append(
            Topic(
                id=str(t["id"]),
                name=str(t["name"]),
                candidates=tuple(str(c) for c in t["candidates"]),
                pattern=re.compile("|".join(f"(?:{p})" for p in t["patterns"])),
            )
        )
    return tuple(topics)


@dataclass(eq=False)
class LocalJurisdiction:
    """The contested topics and the bureau's choices, re-read when the file changes."""

    path: Path | None
    topics: tuple[Topic, ...] = field(default_factory=load_topics)
    _stamp: tuple[int, int] | None = None
    _choices: dict[str, Choice] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def choices(self) -> dict[str, Choice]:
        """The current choices; a missing or unreadable file means none are set."""
        if self.path is None:
            return {}
        try:
            st = self.path.stat()
        except OSError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._choices = read_state(self.path).choices
                self._stamp = stamp
            return self._choices

    @cached_property
    def _gate(self) -> PairGate:
        return PairGate([(t.pattern,) for t in self.topics])

    def candidates(self, texts: Sequence[str]) -> list[int]:
        """For each text, a bit mask of the topics it could be on (:class:`PairGate`): one
        pass over a batch rather than every topic's pattern over every text."""
        return self._gate.candidates(texts)

    def match(
        self,
        text: str,
        choices: dict[str, Choice] | None = None,
        candidates: int | None = None,
    ) -> list[LocalMatch]:
        """The topics found in a text; ``candidates`` (from :meth:`candidates`) skips the
        topics that cannot be found."""
        if choices is None:
            choices = self.choices()
        if candidates is None:
            candidates = self.candidates([text])[0]
        found = []
        for k, topic in enumerate(self.topics):
            if not candidates >> k & 1:
                continue
            words = topic.find(text)
            if words:
                found.append(LocalMatch(topic, words, choices.get(topic.id)))
        return found


@dataclass(frozen=True)
class LocalState:
    """The choices file as read: its version, the current choices, every change made."""

    version: int
    choices: dict[str, Choice]
    history: list[dict[str, Any]]


def read_state(path: Path | None) -> LocalState:
    """The bureau's settings; a missing or unreadable file means none are set."""
    try:
        data = json.loads(path.read_text("utf-8")) if path is not None else {}
    except (OSError, ValueError):
        data = {}
    choices = {
        k: Choice(
            handler=str(v["handler"]),
            by=str(v.get("by", "")),
            at=str(v.get("at", "")),
            reason=str(v.get("reason", "")),
            version=int(v.get("version", 0)),
        )
        for k, v in data.get("choices", {}).items()
    }
    return LocalState(int(data.get("version", 0)), choices, list(data.get("history", [])))


def history(path: Path) -> list[dict[str, Any]]:
    """Every change ever made, oldest first."""
    return read_state(path).history


def set_choice(
    path: Path, topic_id: str, handler: str | None, *, by: str, reason: str = ""
) -> dict[str, Any]:
    """Set (or, with ``handler`` None, clear) the bureau's handler for one topic.

    The handler must be one of the topic's candidates. Returns the history entry written.
    """
    topics = {t.id: t for t in load_topics()}
    topic = topics.get(topic_id)
    if topic is None:
        known = "、".join(f"{t.id}（{t.name}）" for t in topics.values())
        raise LocalError(f"没有这个事项：{topic_id}。可设置的事项：{known}")
    if handler is not None and handler not in topic.candidates:
        raise LocalError(
            f"“{topic.name}”只能由 {'、'.join(topic.candidates)} 承办，不能设为 {handler}。"
        )
    if not by.strip():
        raise LocalError("请注明设置人。")
    state = read_state(path)
    version = state.version + 1
    at = datetime.now(UTC).isoformat(timespec="seconds")
    previous = state.choices.get(topic_id)
    entry = {
        "version": version,
        "topic": topic_id,
        "name": topic.name,
        "handler": handler,
        "previous": previous.handler if previous else None,
        "by": by,
        "at": at,
        "reason": reason,
    }
    choices = {
        k: {"handler": c.handler, "by": c.by, "at": c.at, "reason": c.reason, "version": c.version}
        for k, c in state.choices.items()
    }
    if handler is None:
        choices.pop(topic_id, None)
    else:
        choices[topic_id] = {
            "handler": handler,
            "by": by,
            "at": at,
            "reason": reason,
            "version": version,
        }
    out = {"version": version, "choices": choices, "history": [*state.history, entry]}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".local-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return entry
