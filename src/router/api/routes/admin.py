"""Administration: swap in a newly promoted model without a restart."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from router.api.deps import Admin, SettingsDep
from router.api.errors import problems
from router.api.holder import announce_reload
from router.learn.registry import RegistryError

router = APIRouter(tags=["管理"])


class ReloadResult(BaseModel):
    previous: str
    current: str
    changed: bool


@router.post("/admin/reload", response_model=ReloadResult, responses=problems(400, 401, 403, 409))
async def reload_model(request: Request, settings: SettingsDep, _who: Admin) -> ReloadResult:
    """立即加载 models/current 指向的版本（router models promote / rollback 之后），整体替换
    正在服务的模型；加载期间和失败时旧模型照常服务。服务也会每隔 ROUTER_MODEL_WATCH_SECONDS
    秒自行检查一次。"""
    holder = request.app.state.router_holder
    holder.forget_failures()  # asked for explicitly: a version that failed before is tried again
    announce_reload(settings)  # the other workers look again on their next request
    try:
        previous, current = await run_in_threadpool(holder.reload, settings)
    except RegistryError as exc:
        raise HTTPException(409, f"无法加载模型，继续使用原模型：{exc}") from exc
    except Exception as exc:  # noqa: BLE001 - whatever broke the version, the old one serves
        raise HTTPException(
            409, f"无法加载模型，继续使用原模型：{type(exc).__name__}：{str(exc)[:200]}"
        ) from exc
    return ReloadResult(previous=previous, current=current, changed=previous != current)
