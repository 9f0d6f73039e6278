"""Request and response schemas of the routing and information endpoints.

The ledger's schemas live in :mod:`router.ledger.schemas`; the decision itself is
:class:`router.core.suggestion.Decision`, reused as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from router.core.suggestion import Decision
from router.core.text import clean_text


def _clean(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


# no lone surrogates (422), no control characters: as the ledger stores text
RouteText = Annotated[str, BeforeValidator(_clean)]


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: RouteText | None = Field(default=None, description="建议标题")
    content: RouteText | None = Field(default=None, description="建议正文")


class RouteResult(Decision):
    """The decision plus the text its evidence offsets point into."""

    text: str = Field(description="规范化后的“标题\\n正文”；evidence 的 start/end 以此为准")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[RouteRequest] = Field(min_length=1, description="每条含 title 与 content")


class BatchItem(BaseModel):
    index: int
    decision: Decision | None = None
    error: str | None = Field(default=None, description="该条无法分办的原因")


class BatchResponse(BaseModel):
    model_version: str
    count: int
    errors: int
    results: list[BatchItem]


class UnitPublic(BaseModel):
    label: str
    unit: str
    handles: str


class DepartmentPublic(BaseModel):
    name: str
    handles: str


class UnitsPublic(BaseModel):
    labels_version: int
    units: list[UnitPublic]
    outside_label: str
    departments: list[DepartmentPublic]
    reason_codes: list[str]
    statuses: list[str]
    evaluations: list[str]


class ModelPublic(BaseModel):
    version: str
    trained_at: str | None = Field(description="训练完成时间（UTC）")
    loaded_at: datetime
    trained_on: dict[str, Any] = Field(description="训练数据：文件与校验和、条数、各类别条数")
    split: dict[str, Any]
    labels_version: int | None
    rules_version: int | None
    config: dict[str, Any]
    library_versions: dict[str, str]
    metrics: dict[str, Any] = Field(
        description="留出集评估：宏 F1、各单位 P/R/F1、ECE、覆盖率、职责判定"
    )


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    model_version: str
    database: Literal["ok"]
