"""What goes into and comes out of the ledger, validated once for the API and the batch import.

Validation messages are Chinese: the API shows them to the dispatcher as they are.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from router.core.suggestion import Decision
from router.core.text import clean_text, normalize
from router.labels import LabelSet, load_labels

INT_MAX = 2**31 - 1  # the ledger's integer columns (PostgreSQL integer) hold no more

_Schema = TypeVar("_Schema", bound=BaseModel)


def from_row(schema: type[_Schema], row: object, **computed: Any) -> _Schema:
    """``schema`` filled from ``row``'s attributes of the same names, and from ``computed``.

    For a response that is mostly one row plus a few derived or joined values; a schema
    that is the row's columns alone uses ``model_validate(row, from_attributes=True)``.
    """
    values = {name: getattr(row, name) for name in schema.model_fields if name not in computed}
    return schema.model_validate(values | computed)


def _key(value: Any) -> Any:
    return clean_text(value, multiline=False, fold=True) if isinstance(value, str) else value


def _line(value: Any) -> Any:
    return clean_text(value, multiline=False) if isinstance(value, str) else value


def _text(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


# Strings cleaned (no surrogates, no control characters; keys NFKC-folded) before their
# length is checked: what is measured is what is stored.
Key = Annotated[str, BeforeValidator(_key)]
Line = Annotated[str, BeforeValidator(_line)]
Text = Annotated[str, BeforeValidator(_text)]

Kind = Literal["建议", "提案"]
Status = Literal["待分办", "已分办", "办理中", "已答复", "已退办"]
Evaluation = Literal["满意", "基本满意", "不满意"]
ReasonCode = Literal["模型错误", "多部门", "职责调整", "其他"]
Action = Literal[
    "registered",
    "decided",
    "redecided",
    "status",
    "evaluated",
    "undone",
    # the handling cycle (router.ledger.cycle)
    "signed",
    "return_asked",
    "return_approved",
    "return_refused",
    "extend_asked",
    "extend_approved",
    "extend_refused",
    "replied",
    "reply_returned",
    "opinion",
    "supervised",
    "key_marked",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- input --------------------------------------------------------------------------------
class ProposalCreate(_In):
    """A proposal as it arrives: the ledger's 编号, 届次 and the deputy's text."""

    number: Key = Field(min_length=1, max_length=64, description="编号，同一届次内唯一")
    session: Key = Field(min_length=1, max_length=64, description="届次，如“十七届三次”")
    kind: Kind = Field(default="建议", description="建议（人大代表）或提案（政协委员）")
    deputy_name: Line = Field(default="", max_length=100, description="代表/委员姓名")
    deputy_unit: Line = Field(default="", max_length=200, description="代表/委员工作单位")
    title: Text = Field(default="", max_length=500)
    content: Text = Field(default="", description="正文；与标题合计不超过服务的字数上限")
    received_on: date | None = Field(default=None, description="收到日期")

    @field_validator("number", "session")
    @classmethod
    def _fold(cls, value: str) -> str:
        # “第 1 号”与“第１号” are the same number: compare after NFKC and space folding.
        folded = normalize(value)
        if not folded:
            raise ValueError("不能为空")
        if len(folded) > 64:
            raise ValueError("过长（上限 64 字）")
        return folded


class _Versioned(_In):
    expected_version: int = Field(
        ge=1,
        le=INT_MAX,
        description="客户端看到的版本号；与当前版本不同则返回 409，防止覆盖他人的修改",
    )


class DecisionCreate(_Versioned):
    """The dispatcher's decision: a lead unit (with co-handling units), or a referral out."""

    lead_unit: Key | None = Field(
        default=None,
        max_length=64,
        description="主办单位（标签、全称或别名，如“交警支队”）；为空表示整件转出（非公安职责）",
    )
    co_units: list[Annotated[Key, Field(max_length=64)]] = Field(
        default_factory=list, max_length=6, description="会办单位"
    )
    referral_departments: list[Annotated[Key, Field(max_length=64)]] = Field(
        default_factory=list, max_length=20, description="转出或部分转出的责任部门"
    )
    referral_reason: Text | None = Field(
        default=None, max_length=2000, description="转出理由，整件转出时必填"
    )
    reason_code: ReasonCode | None = Field(
        default=None, description="与模型建议不同或重新分办时必填"
    )
    note: Text | None = Field(default=None, max_length=2000)
    due_on: date | None = Field(
        default=None, description="办理期限；默认分办之日起三个月（可配置）"
    )

    @model_validator(mode="after")
    def _check(self) -> DecisionCreate:
        labels = load_labels()
        if self.lead_unit is not None:
            self.lead_unit = _unit(self.lead_unit, labels) or None
        co = [_unit(u, labels) for u in self.co_units]
        self.co_units = [
            u for i, u in enumerate(co) if u and u != self.lead_unit and u not in co[:i]
        ]
        deps = [d.strip() for d in self.referral_departments if d.strip()]
        unknown = [d for d in deps if d not in labels.departments]
        if unknown:
            raise ValueError(f"未知的责任部门：{'、'.join(unknown)}")
        self.referral_departments = list(dict.fromkeys(deps))
        self.referral_reason = (self.referral_reason or "").strip() or None
        if self.lead_unit is None:
            if not self.referral_departments:
                raise ValueError("请指定主办单位；整件转出时请指定责任部门")
            if self.co_units:
                raise ValueError("整件转出的建议不能有会办单位")
            if self.referral_reason is None:
                raise ValueError("整件转出须写明理由")
        return self


def _unit(value: str, labels: LabelSet) -> str:
    """A unit's label from its label, full name (交警支队) or an alias; '' stays ''."""
    value = value.strip()
    if not value:
        return ""
    try:
        label = labels.canonical(value)
    except ValueError:
        label = value
    if label not in labels.unit_labels:
        units = labels.unit_labels
        raise ValueError(f"未知的承办单位：{value}（可选：{'、'.join(units)}，或其全称）")
    return label


class StatusChange(_Versioned):
    status: Status = Field(description="办理中或已答复；分办和转出由分办决定设置")
    replied_on: date | None = Field(default=None, description="答复日期，默认今天")
    note: Text | None = Field(default=None, max_length=2000)


class EvaluationCreate(_Versioned):
    evaluation: Evaluation = Field(description="代表对答复的评价")
    note: Text | None = Field(default=None, max_length=2000)


# -- output -------------------------------------------------------------------------------
class DecisionPublic(BaseModel):
    lead_unit: str | None
    co_units: list[str]
    referral_departments: list[str]
    referral_reason: str | None
    reason_code: ReasonCode | None
    note: str | None
    decided_by: str
    decided_at: datetime
    follows_suggestion: bool


class ProposalPublic(BaseModel):
    id: int
    number: str
    session: str
    kind: Kind
    deputy_name: str
    deputy_unit: str
    title: str
    content: str
    received_on: date | None
    suggested_unit: str | None = Field(description="模型建议的主办单位；为空表示建议转出")
    suggested_confidence: float
    suggested_jurisdiction: str
    needs_review: bool
    model_version: str = Field(description="给出建议的模型版本")
    decision: DecisionPublic | None
    status: Status
    due_on: date | None
    replied_on: date | None
    evaluation: Evaluation | None
    overdue: bool
    days_overdue: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class EventPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: Action
    version: int
    data: dict[str, Any]


class ProposalDetail(ProposalPublic):
    text: str = Field(description="规范化后的标题与正文；suggestion.evidence 的位置以此为准")
    suggestion: Decision | None
    events: list[EventPublic]


class ProposalList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ProposalPublic]


class UnitStats(BaseModel):
    unit: str
    unit_name: str
    lead: int = Field(description="主办件数")
    co: int = Field(description="会办件数")
    replied: int
    overdue: int
    evaluated: int
    satisfied: int = Field(description="满意与基本满意")
    satisfaction_rate: float | None


class OverdueItem(BaseModel):
    id: int
    number: str
    session: str
    title: str
    lead_unit: str | None
    status: Status
    due_on: date
    days_overdue: int


class Stats(BaseModel):
    session: str | None
    sessions: list[str]
    total: int
    by_status: dict[str, int]
    by_unit: list[UnitStats]
    by_kind: dict[str, int]
    referrals: int = Field(description="整件转出（非公安职责）件数")
    partial_referrals: int = Field(description="主办之外部分内容转出的件数")
    by_department: dict[str, int]
    evaluations: dict[str, int]
    satisfaction_rate: float | None = Field(description="（满意+基本满意）/已评价")
    overdue: int
    overdue_items: list[OverdueItem]
    decided: int
    suggestion_followed_rate: float | None = Field(description="分办结果与模型建议一致的比例")
