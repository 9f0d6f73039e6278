"""Which column holds what: the ledger's usual Chinese headers, or an explicit mapping.

Ledgers from different years and offices name the same column differently (建议标题, 案由,
题目 ...). The rules below are shared by batch routing and by retraining, which reads the
承办单位 column of past sessions' labelled files with the same rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from router.sheets.read import Table

__all__ = [
    "ALIASES",
    "ROLE_NAMES",
    "ROLES",
    "ColumnError",
    "Columns",
    "column_letter",
    "find_columns",
    "header_key",
    "header_score",
]

ROLES = ("number", "title", "content", "deputy_name", "deputy_unit", "unit")
ROLE_NAMES = {
    "number": "编号",
    "title": "标题",
    "content": "内容",
    "deputy_name": "代表姓名",
    "deputy_unit": "代表单位",
    "unit": "承办单位",
}
# In order of preference: when a sheet has both 编号 and 序号, 编号 is the ledger's number.
ALIASES: dict[str, tuple[str, ...]] = {
    "number": ("编号", "建议编号", "建议号", "提案编号", "提案号", "案号", "议案号", "序号"),
    "title": ("标题", "建议标题", "提案标题", "案由", "题目", "建议题目", "提案题目", "建议名称"),
    "content": (
        "内容",
        "建议内容",
        "提案内容",
        "主要内容",
        "内容摘要",
        "主要内容摘要",
        "正文",
        "建议正文",
        "具体内容",
    ),
    "deputy_name": (
        "代表姓名",
        "领衔代表",
        "提出人",
        "提案人",
        "委员姓名",
        "第一提案人",
        "领衔人",
        "代表",
        "姓名",
    ),
    "deputy_unit": ("代表单位", "工作单位", "代表工作单位", "委员单位", "单位"),
    "unit": ("承办单位", "主办单位", "承办部门", "办理单位"),
}
_TEXT_ROLES = ("title", "content")
_NOTE = re.compile(r"[（(][^）)]*[）)]")
_PUNCT = re.compile(r"[\s*＊:：、/\\_\-—·.。]+")
_LETTERS = re.compile(r"^[A-Za-z]{1,3}$")


class ColumnError(ValueError):
    """The columns cannot be found or a mapping names no column; the message is Chinese.

    ``columns`` lists the table's columns as (letter, header) so that a page can offer them
    to pick from; ``hint`` is the message without the command line's options.
    """

    def __init__(
        self, message: str, columns: Sequence[tuple[str, str]] = (), hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.columns = list(columns)
        self.hint = hint or message


def header_key(text: str) -> str:
    """A header as compared: NFKC, no notes in brackets, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", str(text))
    return _PUNCT.sub("", _NOTE.sub("", text))


_LOOKUP: dict[str, tuple[str, int]] = {
    header_key(alias): (role, rank)
    for role, names in ALIASES.items()
    for rank, alias in enumerate(names)
}


def role_of(header: str) -> tuple[str, int] | None:
    """The role a header names and its rank among that role's aliases (0 = preferred)."""
    return _LOOKUP.get(header_key(header))


def header_score(cells: Iterable[Any], extra: Iterable[str] = ()) -> int:
    """How much a row looks like the ledger's header: distinct roles named, text roles double.

    ``extra`` are header names an explicit mapping asks for; each found counts as a role.
    """
    keys = {header_key(str(c)) for c in cells if c is not None and str(c).strip()}
    roles = {hit[0] for k in keys if (hit := _LOOKUP.get(k)) is not None}
    score = len(roles) + sum(1 for r in _TEXT_ROLES if r in roles)
    score += sum(1 for name in extra if header_key(name) in keys)
    return score


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: how the clerk sees the column in Excel."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _letter_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


@dataclass(frozen=True)
class Columns:
    """The column name in the table for each role (None when absent), and how it was found."""

    number: str | None = None
    title: str | None = None
    content: str | None = None
    deputy_name: str | None = None
    deputy_unit: str | None = None
    unit: str | None = None
    how: dict[str, str] = field(default_factory=dict)
    letters: dict[str, str] = field(default_factory=dict)

    def get(self, role: str) -> str | None:
        value: str | None = getattr(self, role)
        return value

    def describe(self) -> list[str]:
        """One line per role, for the clerk: which column, found how."""
        lines = []
        for role in ROLES:
            col = self.get(role)
            if col is None:
                if role != "unit":
                    lines.append(f"{ROLE_NAMES[role]}：未找到")
                continue
            where = self.letters.get(col)
            place = f"{where} 列“{col}”" if where else f"“{col}”"
            lines.append(f"{ROLE_NAMES[role]}：{place}（{self.how.get(role, '按表头识别')}）")
        return lines


def find_columns(
    table: Table | pd.DataFrame,
    overrides: Mapping[str, str | None] | None = None,
    *,
    require_text: bool = True,
) -> Columns:
    """Find each role's column by its header; ``overrides`` maps a role to a header or letter.

    Raises :class:`ColumnError` when an override names no column, or (``require_text``)
    when neither a title nor a content column can be found.
    """
    import pandas as pd  # here: the reader's child imports this module without pandas

    frame = table if isinstance(table, pd.DataFrame) else table.frame
    letters: dict[str, str] = (
        {} if isinstance(table, pd.DataFrame) else dict(getattr(table, "letters", {}))
    )
    if not letters:
        letters = {str(c): column_letter(i) for i, c in enumerate(frame.columns)}
    names = [str(c) for c in frame.columns]
    chosen: dict[str, str] = {}
    how: dict[str, str] = {}
    for role, wanted in (overrides or {}).items():
        if role not in ROLES:
            raise ColumnError(f"未知的列角色：{role}")
        if not wanted:
            continue
        col = _resolve(str(wanted), names, letters)
        if col is None:
            shown = "、".join(f"{letters.get(n, '?')}“{n}”" for n in names[:30])
            raise ColumnError(
                f"指定的{ROLE_NAMES[role]}列“{wanted}”不存在。表中的列有：{shown}。"
                "可以写表头文字，也可以写列字母（如 C）。",
                [(letters.get(n, "?"), n) for n in names],
                f"指定的{ROLE_NAMES[role]}列“{wanted}”不存在，请在下面的列中重新选择。",
            )
        chosen[role] = col
        how[role] = "按指定"
    taken = set(chosen.values())
    best: dict[str, tuple[int, int, str]] = {}
    for pos, name in enumerate(names):
        if name in taken:
            continue
        found = role_of(name)
        if found is None or found[0] in chosen:
            continue
        role, rank = found
        if role not in best or (rank, pos) < best[role][:2]:
            best[role] = (rank, pos, name)
    for role, (_, _, name) in best.items():
        chosen[role] = name
        how[role] = "按表头识别"
    if require_text and not any(r in chosen for r in _TEXT_ROLES):
        shown = "、".join(f"“{n}”" for n in names[:30]) or "（无）"
        missing = "未找到可用的文本列：表头中没有“标题”“建议标题”“案由”“题目”或“内容”“建议内容”“主要内容”等列。"
        raise ColumnError(
            f"{missing}表中的列有：{shown}。请用 --title-col / --content-col 指定（写表头文字或列字母）。",
            [(letters.get(n, "?"), n) for n in names],
            f"{missing}请在下面选择标题列和正文列，再上传一次。",
        )
    return Columns(**chosen, how=how, letters=letters)


def _resolve(wanted: str, names: Sequence[str], letters: Mapping[str, str]) -> str | None:
    if wanted in names:
        return wanted
    key = header_key(wanted)
    for name in names:
        if header_key(name) == key and key:
            return name
    if _LETTERS.match(wanted.strip()):
        letter = wanted.strip().upper()
        for name in names:
            if letters.get(name) == letter:
                return name
        index = _letter_index(letter)
        if not letters and 0 <= index < len(names):
            return names[index]
    return None
