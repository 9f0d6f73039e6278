"""Batch endpoints: upload a session's ledger, get the routed workbook back.

The work is :mod:`router.sheets.batch`, the same as ``router batch``; these handlers only read the
upload, map the core's Chinese errors to status codes and send the file. They are plain
``def``: FastAPI runs them in the thread pool, so routing thousands of rows never holds up
the event loop.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import Response

from router import ledger
from router.api.deps import DbDep, Dispatcher, ServingDep, SettingsDep
from router.api.errors import problems
from router.settings import Settings

if TYPE_CHECKING:
    from router.sheets.batch import BatchResult

router = APIRouter(tags=["批量分办"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_ERRORS = problems(400, 413, 422)

ColumnForm = Annotated[
    str | None, Form(description="表头文字或列字母（如 C）；不填则按表头自动识别")
]


class ColumnsUnknown(HTTPException):
    """422 with the table's columns (``extra``), so that the page can offer a column picker."""

    def __init__(self, message: str, columns: list[tuple[str, str]]) -> None:
        super().__init__(422, message)
        self.extra = {"columns": [{"letter": c, "name": n} for c, n in columns]}


def _read_upload(upload: UploadFile, settings: Settings) -> tuple[bytes, str]:
    limit = settings.batch_max_file_mb * 1024 * 1024
    data = upload.file.read(limit + 1)
    name = upload.filename or "上传文件.xlsx"
    if len(data) > limit:
        raise HTTPException(
            413, f"{name} 超过 {settings.batch_max_file_mb} MB 的上限。请按年度拆分后分别上传。"
        )
    return data, name


def _route_upload(
    upload: UploadFile,
    settings: Settings,
    serving: Any,
    overrides: dict[str, str | None],
    keep: bool,
) -> BatchResult:
    # pandas and the workbook readers load on the first upload, not when the service starts
    from router.sheets.batch import BatchOptions, load_input, route_table
    from router.sheets.columns import ColumnError
    from router.sheets.read import TableError

    data, name = _read_upload(upload, settings)
    options = BatchOptions.from_settings(settings, overrides=overrides)
    try:
        table, columns = load_input((data, name), options)
    except TableError as exc:
        raise HTTPException(exc.status, exc.message) from exc
    except ColumnError as exc:
        # the page offers the columns to pick from (title_col / content_col), not CLI options
        raise ColumnsUnknown(exc.hint, exc.columns) from exc
    return route_table(serving.router, table, columns, options, keep_decisions=keep)


def _workbook(result: BatchResult) -> Response:
    from router.sheets.write import write_output

    buffer = io.BytesIO()
    write_output(result, buffer, "xlsx")
    stem = result.table.source.rsplit(".", 1)[0] or "台账"
    filename = f"{stem}-分办结果.xlsx"
    s = result.summary()
    headers = {
        "Content-Disposition": f"attachment; filename=\"routed.xlsx\"; filename*=UTF-8''{quote(filename)}",
        "X-Batch-Rows": str(s["rows"]),
        "X-Batch-Routed": str(s["routed"]),
        "X-Batch-Problems": str(s["problems"]),
        "X-Batch-Review": str(s["needs_review"]),
        "X-Batch-Confirmable": str(s["confirmable"]),
        "X-Batch-Groups": str(s["groups"]),
        "X-Model-Version": result.model_version,
    }
    if result.table.other_sheets:  # sheets not read: the page tells the clerk
        headers["X-Batch-Other-Sheets"] = ",".join(quote(n) for n in result.table.other_sheets)
    if result.registration is not None:
        headers["X-Batch-Registered"] = str(result.registration.created)
        headers["X-Batch-Existing"] = str(result.registration.existing)
    return Response(buffer.getvalue(), media_type=XLSX, headers=headers)


_FILE_DOC = "台账文件：.xlsx、.xls 或 .csv（UTF-8 / GBK）"
_OK: dict[int | str, dict[str, Any]] = {
    200: {"content": {XLSX: {}}, "description": "分办结果工作簿：一览表、统计、问题行、并案"}
}


@router.post("/batch", response_class=Response, responses={**_OK, **_ERRORS})
def batch_file(
    file: Annotated[UploadFile, File(description=_FILE_DOC)],
    serving: ServingDep,
    settings: SettingsDep,
    number_col: ColumnForm = None,
    title_col: ColumnForm = None,
    content_col: ColumnForm = None,
) -> Response:
    """上传整份台账，逐行给出分办建议，返回结果工作簿（不写入台账）。"""
    overrides = {"number": number_col, "title": title_col, "content": content_col}
    result = _route_upload(file, settings, serving, overrides, keep=False)
    return _workbook(result)


@router.post(
    "/batch/register",
    response_class=Response,
    responses={**_OK, **problems(400, 401, 409, 413, 422)},
)
def batch_register(
    file: Annotated[UploadFile, File(description=_FILE_DOC)],
    session: Annotated[str, Form(min_length=1, max_length=64, description="届次，如“十七届三次”")],
    db: DbDep,
    who: Dispatcher,
    serving: ServingDep,
    settings: SettingsDep,
    number_col: ColumnForm = None,
    title_col: ColumnForm = None,
    content_col: ColumnForm = None,
) -> Response:
    """上传整份台账，分办并登记每一行（一个事务；同一届次同一编号不重复登记），返回结果工作簿。"""
    from router.core.text import clean_text, normalize
    from router.sheets.read import TableError
    from router.sheets.register import register_rows

    try:
        session = normalize(clean_text(session, multiline=False, fold=True))
    except ValueError as exc:
        raise HTTPException(422, f"届次{exc}。") from exc
    if not session or len(session) > 64:
        raise HTTPException(422, "届次不能为空，且不超过 64 字。")
    overrides = {"number": number_col, "title": title_col, "content": content_col}
    result = _route_upload(file, settings, serving, overrides, keep=True)

    def work() -> Response:
        register_rows(db, result, session, actor=who)
        return _workbook(result)

    try:
        return ledger.commit_retrying(db, work)
    except TableError as exc:
        raise HTTPException(exc.status, exc.message) from exc
