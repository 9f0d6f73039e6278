"""Local jurisdiction (本地职责): the contested topics and the bureau's own handler for each."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from router.api.deps import Dispatcher, SettingsDep
from router.api.errors import problems
from router.core.local import LocalError, history, load_topics, read_state, set_choice

router = APIRouter(tags=["本地职责"])


class TopicPublic(BaseModel):
    topic: str
    name: str
    candidates: list[str]
    handler: str | None = Field(description="本局设定的承办方；未设定时此类事项提示人工复核。")
    set_by: str | None = None
    set_at: str | None = None
    reason: str | None = None


class TopicList(BaseModel):
    version: int
    topics: list[TopicPublic]


class ChoiceIn(BaseModel):
    handler: str | None = Field(
        default=None, max_length=20, description="候选承办方之一；null 表示取消本地设定。"
    )
    reason: str = Field(default="", max_length=500)


class HistoryEntry(BaseModel):
    version: int
    topic: str
    name: str
    handler: str | None
    previous: str | None
    by: str
    at: str
    reason: str


def _topics(settings: SettingsDep) -> TopicList:
    state = read_state(settings.local_jurisdiction_path)  # one read of the file
    out = []
    for t in load_topics():
        c = state.choices.get(t.id)
        out.append(
            TopicPublic(
                topic=t.id,
                name=t.name,
                candidates=list(t.candidates),
                handler=c.handler if c else None,
                set_by=c.by if c else None,
                set_at=c.at if c else None,
                reason=c.reason if c else None,
            )
        )
    return TopicList(version=state.version, topics=out)


@router.get("/jurisdiction", response_model=TopicList)
async def list_topics(settings: SettingsDep) -> TopicList:
    """各地分工不同的事项，及本局为每项设定的承办方。"""
    return _topics(settings)


@router.put(
    "/jurisdiction/{topic}", response_model=TopicList, responses=problems(400, 401, 404, 422)
)
async def set_topic(
    topic: str, body: ChoiceIn, settings: SettingsDep, who: Dispatcher
) -> TopicList:
    """设定（或取消）某一事项的本地承办方；每次变更记入历史（谁、何时、为何）。"""
    if topic not in {t.id for t in load_topics()}:
        raise HTTPException(404, f"没有这个事项：{topic}")
    assert settings.local_jurisdiction_path is not None
    try:
        set_choice(
            settings.local_jurisdiction_path, topic, body.handler, by=who, reason=body.reason
        )
    except LocalError as exc:
        raise HTTPException(422, str(exc)) from exc
    return _topics(settings)


@router.get("/jurisdiction/history", response_model=list[HistoryEntry])
async def topic_history(settings: SettingsDep) -> list[HistoryEntry]:
    """本地职责设定的全部变更记录，按时间先后。"""
    assert settings.local_jurisdiction_path is not None
    return [HistoryEntry(**e) for e in history(settings.local_jurisdiction_path)]
