"""The model registry for an administrator: versions, pending and held candidates, the
promotion chain, each candidate's report and its change table (what moves, who taught it).

Read-only: promoting stays with ``router models promote`` on the server, recorded with who.
These views name dispatchers, so they need the token like a write.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from router.api.deps import Dispatcher, SettingsDep
from router.api.errors import problems
from router.learn.registry import Registry, RegistryError

router = APIRouter(tags=["模型管理"])


class VersionPublic(BaseModel):
    version: str
    state: str = Field(
        description="serving 服务中、pending 待审批、held 暂扣、served 曾服务、registered 已登记"
    )
    created_at: str | None
    macro_f1: float | None
    held_reasons: list[str]
    serving_version: str | None = Field(description="候选训练时对比的服务中版本")
    promoted_at: str | None
    promoted_by: str | None
    promoted_reason: str | None
    forced: bool
    has_report: bool


class ChainEntry(BaseModel):
    version: str
    at: str | None = None
    by: str | None = None
    reason: str | None = None
    forced: bool = False


class ModelsPublic(BaseModel):
    serving: str | None
    versions: list[VersionPublic]
    chain: list[ChainEntry] = Field(description="启用链，最早的在前；回退沿此链后退")


class ReportPublic(BaseModel):
    version: str
    markdown: str


def _registry(settings: Any) -> Registry:
    return Registry(settings.models_path)


def _versions(registry: Registry) -> list[VersionPublic]:
    listed = []
    for v in reversed(registry.versions()):
        try:
            st = registry.status(v)
            f1 = registry.metrics(v).get("full", {}).get("macro_f1")
        except (RegistryError, ValueError, OSError):
            continue
        listed.append(
            VersionPublic(
                **{k: st[k] for k in st if k in VersionPublic.model_fields},
                macro_f1=f1,
                has_report=(registry.root / v / "report.md").is_file(),
            )
        )
    return listed


@router.get("/admin/models", response_model=ModelsPublic, responses=problems(400, 401))
def list_models(settings: SettingsDep, _who: Dispatcher) -> ModelsPublic:
    """所有模型版本（最新的在前）：服务中、待审批、暂扣（附原因）和启用链（谁、何时、为何）。"""
    registry = _registry(settings)
    chain = [
        ChainEntry(
            version=str(e.get("version")),
            at=e.get("at"),
            by=e.get("by"),
            reason=e.get("reason"),
            forced=bool(e.get("forced")),
        )
        for e in registry.chain()
    ]
    return ModelsPublic(serving=registry.current(), versions=_versions(registry), chain=chain)


def _checked(registry: Registry, version: str) -> None:
    try:
        registry.metadata(version)
    except RegistryError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get(
    "/admin/models/{version}/report", response_model=ReportPublic, responses=problems(400, 401, 404)
)
def model_report(version: str, settings: SettingsDep, _who: Dispatcher) -> ReportPublic:
    """一个版本的重训练报告（Markdown，开头是通俗的结论）。"""
    registry = _registry(settings)
    _checked(registry, version)
    path = registry.root / version / "report.md"
    if not path.is_file():
        raise HTTPException(
            404, f"模型 {version} 没有重训练报告（由 router train 训练的版本没有）。"
        )
    return ReportPublic(version=version, markdown=path.read_text(encoding="utf-8"))


@router.get("/admin/models/diff", responses=problems(400, 401, 404, 422))
async def model_diff(
    settings: SettingsDep,
    _who: Dispatcher,
    a: str = Query(description="原版本，通常为服务中的版本"),
    b: str = Query(description="新版本，通常为候选"),
) -> dict[str, Any]:
    """两个版本的改判表：冻结评估集、行为测试集、台帐近期建议上的原判 → 新判，附条数、例子
    和（候选由重训练产生时）教会这一改判的来源。"""
    from router.learn.retrain import diff_versions

    registry = _registry(settings)
    for v in (a, b):
        _checked(registry, v)
    try:
        diff = await run_in_threadpool(diff_versions, settings, a, b)
    except RegistryError as exc:
        raise HTTPException(404, str(exc)) from exc
    return diff.to_dict()
