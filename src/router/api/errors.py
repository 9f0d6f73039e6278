"""Every error as ``{"detail": "<Chinese message>"}`` with the right status code.

FastAPI's own messages (validation, 404, 405, 413) are English; the dispatcher reads
Chinese, so they are translated here, once, for every route.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from router.ledger import ConflictError, InvalidError, LedgerError, NotFoundError
from router.ledger.cycle import ForbiddenError

RETRY_AFTER_SECONDS = 5
DATABASE_AWAY = "台帐数据库暂时无法连接，请稍后再试；已保存的内容不受影响。"


log = logging.getLogger("router.api")


class Problem(BaseModel):
    detail: str


_PROBLEMS: dict[int, dict[str, Any]] = {
    400: {"model": Problem, "description": "请求格式错误"},
    401: {"model": Problem, "description": "未登录，或令牌无效"},
    403: {"model": Problem, "description": "没有权限"},
    404: {"model": Problem, "description": "未找到"},
    409: {"model": Problem, "description": "版本冲突或当前状态不允许"},
    413: {"model": Problem, "description": "内容过长"},
    422: {"model": Problem, "description": "内容不符合要求"},
    429: {"model": Problem, "description": "尝试次数过多，请稍后再试"},
    415: {"model": Problem, "description": "不支持的文件或内容类型"},
    503: {"model": Problem, "description": "未就绪，或台帐数据库暂时无法连接（带 Retry-After）"},
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry documenting these error codes in OpenAPI."""
    return {code: _PROBLEMS[code] for code in codes}


_STATUS_TEXT = {
    400: "请求格式错误。",
    401: "需要有效的访问令牌。",
    403: "没有权限。",
    404: "未找到请求的资源。",
    405: "不支持该请求方法。",
    413: "请求内容过大。",
    415: "不支持的内容类型，请使用 application/json。",
    500: "服务器内部错误。",
    503: "服务暂不可用。",
}

_FIELD = {
    "title": "标题",
    "content": "正文",
    "items": "条目",
    "number": "编号",
    "session": "届次",
    "kind": "类别",
    "deputy_name": "代表姓名",
    "deputy_unit": "工作单位",
    "received_on": "收到日期",
    "lead_unit": "主办单位",
    "co_units": "会办单位",
    "referral_departments": "责任部门",
    "referral_reason": "转出理由",
    "reason_code": "原因",
    "note": "备注",
    "due_on": "办理期限",
    "expected_version": "版本号",
    "status": "状态",
    "evaluation": "评价",
    "replied_on": "答复日期",
    "proposal_id": "序号",
    "limit": "每页条数",
    "offset": "起始位置",
    "overdue": "是否超期",
    "reason": "理由",
    "until": "延至日期",
    "opinion": "会办意见",
    "approve": "是否同意",
    "name": "账号名",
    "password": "密码",
    "role": "角色",
    "unit": "承办单位",
    "units": "承办单位",
    "label": "用途",
    "file": "文件",
    "request_id": "申请编号",
    "reply_id": "答复编号",
    "notice_id": "通知编号",
    "token_id": "令牌编号",
}


def _where(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    return " ".join(
        f"第 {p + 1} 条" if isinstance(p, int) else _FIELD.get(str(p), str(p)) for p in parts
    )


def _message(err: dict[str, Any]) -> str:
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind == "missing":
        return "缺少此项"
    if kind == "value_error":
        return str(ctx.get("error", "取值无效"))
    if kind in ("string_too_short",):
        return "不能为空"
    if kind in ("string_too_long",):
        return f"过长（上限 {ctx.get('max_length')} 字）"
    if kind in ("too_short",):
        return f"至少需要 {ctx.get('min_length')} 项"
    if kind in ("too_long",):
        return f"过多（上限 {ctx.get('max_length')} 项）"
    if kind in ("literal_error", "enum"):
        return f"取值无效，可选：{ctx.get('expected', '')}"
    if kind.startswith("date"):
        return "日期格式应为 YYYY-MM-DD"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "应为整数"
    if kind in ("greater_than_equal", "greater_than"):
        return f"应不小于 {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"应不大于 {ctx.get('le', ctx.get('lt'))}"
    if kind in ("bool_parsing", "bool_type"):
        return "应为 true 或 false"
    if kind == "string_type":
        return "应为字符串"
    if kind == "list_type":
        return "应为列表"
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return "应为 JSON 对象"
    if kind == "extra_forbidden":
        return "不认识的字段"
    return "格式不正确"


def validation_detail(errors: list[dict[str, Any]]) -> tuple[int, str]:
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "请求体不是合法的 JSON。"
    body_missing = [
        e for e in errors if e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",)
    ]
    if body_missing:
        return 400, "缺少请求体（JSON）。"
    shapes = ("model_attributes_type", "dict_type", "model_type")
    if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") in shapes for e in errors):
        return 422, "请求体应为 JSON 对象（Content-Type: application/json）。"
    parts = []
    for e in errors[:10]:
        where = _where(tuple(e.get("loc", ())))
        parts.append(f"{where}：{_message(e)}" if where else _message(e))
    return 422, "请求内容有误：" + "；".join(parts) + "。"


_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def wrong_media_type(errors: list[dict[str, Any]], content_type: str) -> str | None:
    """The 415 message when the body failed because it came as the wrong media type."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    shapes = ("model_attributes_type", "dict_type", "model_type")
    for e in errors:
        loc = tuple(e.get("loc", ()))
        if loc == ("body",) and e.get("type") in shapes and ctype and not ctype.endswith("json"):
            return "不支持的内容类型，请求体应为 JSON（Content-Type: application/json）。"
        if (
            len(loc) == 2
            and loc[0] == "body"
            and loc[1] == "file"
            and e.get("type") == "missing"
            and ctype not in _FORMS
        ):
            return "不支持的内容类型，请以 multipart/form-data 上传文件（字段名 file）。"
    return None


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    media = wrong_media_type(errors, request.headers.get("content-type", ""))
    if media is not None:
        return JSONResponse({"detail": media}, status_code=415)
    status, detail = validation_detail(errors)
    return JSONResponse({"detail": detail}, status_code=status)


# what anyone may call: the health checks, the unit list, logging in
OPEN_PATHS = frozenset({"/api/v1/healthz", "/api/v1/readyz", "/api/v1/units", "/api/v1/auth/login"})


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI as the service answers: every 422 is a :class:`Problem` (FastAPI's default
    documents its own English list of errors, which this service never sends), and every
    operation with a request body documents 415."""
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, ops in spec.get("paths", {}).items():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            if path.startswith("/api/v1/") and path not in OPEN_PATHS:
                for status in (401, 403):  # every other endpoint needs an account and a role
                    responses.setdefault(
                        str(status),
                        {"description": _PROBLEMS[status]["description"], "content": problem},
                    )
            params = op.get("parameters", [])
            if "requestBody" not in op and all(p.get("in") == "header" for p in params):
                responses.pop("422", None)  # nothing to validate: never sent
            if "422" in responses:
                responses["422"]["content"] = problem
                if responses["422"].get("description") == "Validation Error":
                    responses["422"]["description"] = _PROBLEMS[422]["description"]
            if "requestBody" in op:  # a body that is not JSON at all
                responses.setdefault(
                    "400", {"description": _PROBLEMS[400]["description"], "content": problem}
                )
            if "requestBody" in op and "415" not in responses:
                responses["415"] = {
                    "description": _PROBLEMS[415]["description"],
                    "content": problem,
                }
    schemas = spec.get("components", {}).get("schemas", {})
    text = str(spec.get("paths"))
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and f"/{unused}'" not in text:
            del schemas[unused]
    return spec


async def _on_http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    try:
        english = HTTPStatus(exc.status_code).phrase
    except ValueError:
        english = ""
    if not isinstance(detail, str) or detail == english or detail.isascii():
        detail = _STATUS_TEXT.get(exc.status_code, f"请求失败（{exc.status_code}）。")
    body: dict[str, Any] = {"detail": detail}
    extra = getattr(exc, "extra", None)  # what a page needs to help, e.g. a file's columns
    if isinstance(extra, dict):
        body.update({k: v for k, v in extra.items() if k != "detail"})
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _on_ledger(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerError)
    body: dict[str, Any] = {"detail": exc.message}
    if isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, ForbiddenError):
        status = 403
    elif isinstance(exc, ConflictError):
        status = 409
        body["current_version"] = exc.current_version
    elif isinstance(exc, InvalidError):
        status = 422
    else:
        status = 400
    return JSONResponse(body, status_code=status)


async def _on_database_away(_request: Request, exc: Exception) -> JSONResponse:
    """The database is down or unreachable: 503 and when to try again, never a 500. The pool
    checks connections before use (pool_pre_ping), so the service recovers on its own."""
    log.warning("database unavailable: %s", str(exc).splitlines()[0][:200])
    return JSONResponse(
        {"detail": DATABASE_AWAY},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _on_database_refused(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database refuses that validation let through: the client's, so a 422."""
    log.warning("database refused a value: %s", str(exc).splitlines()[0][:200])
    return JSONResponse({"detail": "台帐数据库不接受提交的内容，请检查后重试。"}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(LedgerError, _on_ledger)
    for away in (
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.DisconnectionError,
        sa_exc.TimeoutError,
    ):
        app.add_exception_handler(away, _on_database_away)
    app.add_exception_handler(sa_exc.DataError, _on_database_refused)
