"""What the service knows and whether it can serve: units, the model, liveness, readiness."""

from __future__ import annotations

from pathlib import PurePath, PureWindowsPath
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from router.api.deps import CurrentAccount, ServingDep
from router.api.errors import problems
from router.api.schemas import DepartmentPublic, Health, ModelPublic, Ready, UnitPublic, UnitsPublic
from router.db import ping
from router.ledger import EVALUATIONS, REASON_CODES, STATUSES

router = APIRouter(tags=["服务信息"])


@router.get("/units", response_model=UnitsPublic)
def units(serving: ServingDep) -> UnitsPublic:
    """七个承办单位、非公安职责的责任部门，以及各自负责的事项。"""
    labels = serving.router.labels
    return UnitsPublic(
        labels_version=labels.version,
        units=[UnitPublic(label=u.label, unit=u.unit, handles=u.handles) for u in labels.units],
        outside_label=labels.outside,
        departments=[DepartmentPublic(name=k, handles=v) for k, v in labels.departments.items()],
        reason_codes=list(REASON_CODES),
        statuses=list(STATUSES),
        evaluations=list(EVALUATIONS),
    )


def _no_paths(value: Any) -> Any:
    """The metadata as stored, with any server path cut to its file name."""
    if isinstance(value, dict):
        return {k: _no_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_paths(v) for v in value]
    if isinstance(value, str) and (value.startswith(("/", "~")) or PureWindowsPath(value).drive):
        return (
            PurePath(value).name
            if not PureWindowsPath(value).drive
            else PureWindowsPath(value).name
        )
    return value


@router.get("/model", response_model=ModelPublic, responses=problems(401, 403))
def model(serving: ServingDep, _who: CurrentAccount) -> ModelPublic:
    """正在服务的模型：版本、训练时间与数据、留出集评估指标（不含服务器上的路径）。"""
    meta = _no_paths(serving.metadata)
    return ModelPublic(
        version=serving.router.version,
        trained_at=meta.get("created_at"),
        loaded_at=serving.loaded_at,
        trained_on=meta.get("trained_on", {}),
        split=meta.get("split", {}),
        labels_version=meta.get("labels_version"),
        rules_version=meta.get("rules_version"),
        config=meta.get("config", {}),
        library_versions={str(k): str(v) for k, v in meta.get("versions", {}).items()},
        metrics=serving.metrics,
    )


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """进程存活。"""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, responses=problems(503))
async def readyz(request: Request) -> Ready:
    """模型已加载且数据库可以访问时就绪。"""
    holder = getattr(request.app.state, "router_holder", None)
    if holder is None:
        raise HTTPException(503, "模型尚未加载。")
    try:
        await run_in_threadpool(ping, request.app.state.engine)
    except Exception as exc:  # noqa: BLE001 - any database failure means "not ready"
        raise HTTPException(503, f"数据库无法访问：{type(exc).__name__}") from exc
    return Ready(status="ready", model_version=holder.current.router.version, database="ok")
