"""Routing a whole session's ledger at once: from a table to a routed 《一览表》.

The steps, each a plain function so that the command line and the API share them:

1. :func:`load_input` reads the file (:mod:`router.sheets.read`) and finds the columns
   (:mod:`router.sheets.columns`);
2. :func:`route_table` routes every row (vectorised, in chunks, optionally on two processes),
   groups proposals about the same issue (并案), lists the rows it could not route and counts
   everything for the 统计 sheet;
3. :func:`register_rows` (optional) records every routed row in the ledger inside the caller's
   transaction, idempotently;
4. :func:`write_output` writes .xlsx (with the 统计, 问题行 and 并案 sheets and a native bar
   chart) or .csv, and :func:`atomic_path` makes sure no partial file is ever left behind.

并案 thresholds, measured by ``bench/merge_thresholds.py`` (figures in
``bench/results/merge_thresholds.json``). Similarity is the TF-IDF cosine over the domain
tokenizer's words, fitted on the batch itself, so that words every row shares weigh little,
with each named place (road, crossing, school, hospital, estate...) counted as five mentions
(:func:`router.sheets.merge.with_places`). Re-measured with places (2026-12-05): the same
crossing in another deputy's words scored 0.476 to 0.577 (all found at 0.35; 0.376 to 0.499
by wording alone); one template at ten different crossings scored 0.184 to 0.430, 12 of 90
pairs at 0.35 where wording alone put all 90 above 0.49; copies 0.995 found at 0.8 (0.999
before: a typo inside a road name now costs more); corpus false pairs 19.5 per 1,000 rows
at 0.35 (22.2 before); the issues file's reworded related pairs 0.12 found (0.20 before).
The figures below are the wording-only ones measured first.

* duplicate, 0.8: copies of a proposal (identical; re-typed punctuation and spaces; three
  characters changed; a sentence dropped or added; another title) scored 0.775 at the lowest
  and 0.999 of them 0.8 or more; no two different proposals scored above 0.57.
* related, 0.35: two deputies' proposals on the same issue in their own words scored 0.11 to
  0.57 (median 0.24) and overlap with unrelated ones. At 0.35 a fifth of the reworded pairs are
  found, none of 678 same-unit different-issue pairs is, and about 22 pairs per 1,000 corpus
  rows are, which read one by one are mostly the same concern. "Related" is a hint to read
  rows together, never a decision; lexical similarity cannot find a paraphrase that shares
  no words.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from router.core.parallel import Progress, paused
from router.core.routing import Router, route_items
from router.core.suggestion import Decision, InputError
from router.sheets.columns import Columns, find_columns
from router.sheets.guard import Limits, start_isolated
from router.sheets.read import Table, read_file_bytes, read_table, read_table_bytes

if TYPE_CHECKING:
    from router.settings import Settings
from router.sheets.merge import MergeGroup, group_similar

ADDED_COLUMNS = (
    "建议承办单位",
    "置信度",
    "备选单位",
    "建议会办单位",
    "职责判定",
    "建议转交部门",
    "判定依据",
    "需人工复核",
    "并案组",
    "模型版本",
)


@dataclass(frozen=True)
class BatchOptions:
    overrides: Mapping[str, str | None] = field(default_factory=dict)
    sheet: str | None = None
    chunk: int = 500  # rows routed between two progress reports (at most 512 at once)
    workers: int = 1  # 2 or more: route on that many processes when the file is large
    parallel_min_rows: int = 2000
    duplicate_threshold: float = 0.8
    related_threshold: float = 0.35
    max_bytes: int | None = None
    max_rows: int | None = None
    timezone: str = "Asia/Shanghai"  # the bureau's, for the times the workbook shows
    limits: Limits | None = None  # set: read the file bounded, in a child process (guard.py)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BatchOptions:
        base: dict[str, Any] = {
            "duplicate_threshold": settings.duplicate_threshold,
            "related_threshold": settings.related_threshold,
            "max_bytes": settings.batch_max_file_mb * 1024 * 1024,
            "max_rows": settings.batch_max_rows,
            "timezone": settings.timezone,
            "limits": Limits.from_settings(settings),
        }
        base.update(overrides)
        return cls(**base)


@dataclass(frozen=True)
class Problem:
    """A row that could not be routed (or registered), with its row number and why."""

    row: int
    number: str
    title: str
    reason: str
    stage: str = "分办"  # or "登记"


@dataclass
class Registration:
    session: str
    created: int = 0
    existing: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Routed:
    """What the output needs from one decision."""

    cells: tuple[Any, ...]  # the added columns except 并案组, in ADDED_COLUMNS order
    unit: str  # lead unit label, or the outside label
    jurisdiction: str
    departments: tuple[str, ...]
    co_units: tuple[str, ...]
    needs_review: bool
    reason_kinds: tuple[str, ...]
    bulk_confirmable: bool = False


@dataclass
class BatchResult:
    table: Table
    columns: Columns
    frame: pd.DataFrame  # the original columns, then ADDED_COLUMNS; index = row numbers
    problems: list[Problem]
    groups: list[MergeGroup]
    model_version: str
    routed: list[_Routed | None]
    decisions: list[Decision | None]
    seconds: dict[str, float]
    texts: list[str] = field(default_factory=list)  # each row's prepared text ("" unrouted)
    registration: Registration | None = None
    replaced_columns: list[str] = field(default_factory=list)
    thresholds: tuple[float, float] = (0.8, 0.35)  # duplicate, related
    timezone: str = "Asia/Shanghai"

    @property
    def total(self) -> int:
        return len(self.frame)

    @property
    def routed_count(self) -> int:
        return sum(r is not None for r in self.routed)

    @property
    def review_count(self) -> int:
        return sum(1 for r in self.routed if r is not None and r.needs_review)

    @property
    def confirmable(self) -> int:
        return sum(1 for r in self.routed if r is not None and r.bulk_confirmable)

    def summary(self) -> dict[str, Any]:
        """The figures the clerk sees at the end and the API returns in headers."""
        per_unit = Counter(r.unit for r in self.routed if r is not None)
        return {
            "rows": self.total,
            "routed": self.routed_count,
            "problems": self.total - self.routed_count,
            "needs_review": self.review_count,
            "confirmable": self.confirmable,
            "confirmable_share": round(self.confirmable / self.total, 4) if self.total else 0.0,
            "blank_rows_skipped": self.table.blank_rows,
            "footer_rows": len(self.table.footer),
            "groups": len(self.groups),
            "grouped_rows": sum(len(g.positions) for g in self.groups),
            "duplicate_rows": sum(len(g.duplicates) for g in self.groups),
            "per_unit": dict(per_unit.most_common()),
            "model_version": self.model_version,
        }


JURISDICTION_NAMES = {"police": "公安职责", "partial": "部分非公安职责", "outside": "非公安职责"}
# The output's 一览表 has one header row: the row at position ``pos`` is row ``pos + 2``.
OUTPUT_FIRST_ROW = 2


def output_row(pos: int) -> int:
    """The row number of data position ``pos`` in the output 一览表 (and in the .csv)."""
    return pos + OUTPUT_FIRST_ROW


def row_label(pos: int, rows: list[int]) -> str:
    """“第 14 行（原表第 16 行）”: the output's row, and the input's where it differs."""
    out, src = output_row(pos), rows[pos]
    return f"第 {out} 行" if out == src else f"第 {out} 行（原表第 {src} 行）"


# -- 1. input -----------------------------------------------------------------------------
def load_input(
    source: Path | str | tuple[bytes, str], options: BatchOptions
) -> tuple[Table, Columns]:
    """Read the file and find its columns; raises TableError or ColumnError (Chinese)."""
    return start_input(source, options)()


def start_input(
    source: Path | str | tuple[bytes, str], options: BatchOptions
) -> Callable[[], tuple[Table, Columns]]:
    """:func:`load_input` in two halves: an isolated read's child starts now (a bad size or
    bounds raise now), and calling what this returns waits for the table and finds its
    columns, so that a caller can load its model while the child parses the workbook."""
    extra = [v for v in options.overrides.values() if v]
    if options.limits is not None:
        if isinstance(source, tuple):
            data, name = source
        else:
            data, name = read_file_bytes(source, options.max_bytes), Path(source).name
        pending = start_isolated(
            data,
            name,
            options.limits,
            sheet=options.sheet,
            max_bytes=options.max_bytes,
            max_rows=options.max_rows,
            extra_headers=extra,
        )

        def finish() -> tuple[Table, Columns]:
            table = pending.result()
            return table, find_columns(table, options.overrides)

        return finish
    if isinstance(source, tuple):
        data, name = source
        table = read_table_bytes(
            data,
            name,
            sheet=options.sheet,
            max_bytes=options.max_bytes,
            max_rows=options.max_rows,
            extra_headers=extra,
        )
    else:
        table = read_table(
            source,
            sheet=options.sheet,
            max_bytes=options.max_bytes,
            max_rows=options.max_rows,
            extra_headers=extra,
        )
    return lambda: (table, find_columns(table, options.overrides))


# -- 2. routing ---------------------------------------------------------------------------
def route_table(
    router: Router,
    table: Table,
    columns: Columns,
    options: BatchOptions | None = None,
    progress: Progress | None = None,
    *,
    keep_decisions: bool = False,
    merge_progress: Progress | None = None,
) -> BatchResult:
    """Route every row; rows that cannot be routed stay in place and are listed as problems.

    ``keep_decisions`` keeps the full :class:`Decision` of each row, which registration needs.
    ``progress(done, total)`` follows the routing, ``merge_progress(step, 3)`` the 并案.
    """
    options = options or BatchOptions()
    clock = time.perf_counter()
    df = table.frame
    n = len(df)
    titles = column_values(df, columns.title)
    contents = column_values(df, columns.content)
    numbers = column_values(df, columns.number)
    rows = table.rows
    problems: dict[int, Problem] = {}
    todo: list[int] = []
    for pos, row in enumerate(rows):
        bad = [
            f"{table.letters.get(col, '')}{row} {why}"
            for col in (columns.title, columns.content)
            if col is not None and (why := table.bad_cells.get((row, col)))
        ]
        if bad:
            problems[pos] = Problem(row, numbers[pos], titles[pos], "；".join(bad))
        else:
            todo.append(pos)
    items = [(titles[p], contents[p]) for p in todo]
    workers = min(options.workers, os.cpu_count() or 1)
    routed_items = route_items(
        router,
        items,
        workers if len(items) >= options.parallel_min_rows else 1,
        progress=progress,
        chunk=options.chunk,
    )
    routed: list[_Routed | None] = [None] * n
    decisions: list[Decision | None] = [None] * n
    texts: list[str] = [""] * n
    words: list[list[str]] = [[] for _ in range(n)]
    with paused(len(todo)):
        for pos, item in zip(todo, routed_items, strict=True):
            if isinstance(item.result, InputError):
                problems[pos] = Problem(rows[pos], numbers[pos], titles[pos], str(item.result))
                continue
            routed[pos] = _compact(item.result, router)
            texts[pos], words[pos] = item.text, item.tokens
            if keep_decisions:
                decisions[pos] = item.result
    t_route = time.perf_counter() - clock

    clock = time.perf_counter()
    ok = [p for p in range(n) if routed[p] is not None]
    groups = group_similar(
        [texts[p] for p in ok],
        options.duplicate_threshold,
        options.related_threshold,
        processes=workers,
        tokens=[words[p] for p in ok],  # segmented once, while routing
        progress=merge_progress,
    )
    groups = [
        MergeGroup(
            g.name,
            tuple(ok[i] for i in g.positions),
            {ok[i]: ok[j] for i, j in g.duplicates.items()},
            g.max_similarity,
        )
        for g in groups
    ]
    t_group = time.perf_counter() - clock

    frame, replaced = _output_frame(df, routed, problems, groups, rows, router.version)
    return BatchResult(
        table=table,
        columns=columns,
        frame=frame,
        problems=[problems[p] for p in sorted(problems)],
        groups=groups,
        model_version=router.version,
        routed=routed,
        decisions=decisions,
        texts=texts,
        seconds={"route": round(t_route, 3), "group": round(t_group, 3)},
        replaced_columns=replaced,
        thresholds=(options.duplicate_threshold, options.related_threshold),
        timezone=options.timezone,
    )


def column_values(df: pd.DataFrame, col: str | None) -> list[str]:
    if col is None:
        return [""] * len(df)
    return [str(v) for v in df[col].tolist()]


def _reason_kind(reason: str) -> str:
    return reason.split("（", 1)[0]


def _compact(d: Decision, router: Router) -> _Routed:
    outside = router.labels.outside
    basis = []
    terms = list(dict.fromkeys(t.term.replace(" ", "") for t in d.top_terms))[:5]
    if terms:
        basis.append("依据词：" + "、".join(terms))
    for part in d.outside_parts:
        basis.append(f"{part.part}→{'、'.join(part.departments)}（{'、'.join(part.words)}）")
    review = "是：" + "；".join(d.review_reasons) if d.needs_review else "否"
    cells = (
        d.unit or outside,
        float(d.confidence),
        "、".join(f"{a.unit} {a.confidence:.0%}" for a in d.alternatives),
        "、".join(d.co_units),
        JURISDICTION_NAMES.get(d.jurisdiction, d.jurisdiction),
        "、".join(d.departments),
        "；".join(basis),
        review,
        d.model_version,
    )
    return _Routed(
        cells=cells,
        unit=d.unit or outside,
        jurisdiction=d.jurisdiction,
        departments=tuple(d.departments),
        co_units=tuple(d.co_units),
        needs_review=d.needs_review,
        reason_kinds=tuple(_reason_kind(r) for r in d.review_reasons),
        bulk_confirmable=d.bulk_confirmable,
    )


def _output_frame(
    df: pd.DataFrame,
    routed: list[_Routed | None],
    problems: dict[int, Problem],
    groups: list[MergeGroup],
    rows: list[int],
    version: str,
) -> tuple[pd.DataFrame, list[str]]:
    """Every original column and row in order, then the added columns."""
    replaced = [c for c in df.columns if c in ADDED_COLUMNS]
    base = df.drop(columns=replaced)
    label: dict[int, str] = {}
    for g in groups:
        for pos in g.positions:
            label[pos] = g.name
        for pos, orig in g.duplicates.items():
            label[pos] = f"{g.name}（与{row_label(orig, rows)}重复）"
    empty_cells: tuple[Any, ...] = ("", None, "", "", "", "", "")
    added: dict[str, list[Any]] = {c: [] for c in ADDED_COLUMNS}
    for pos, r in enumerate(routed):
        if r is None:
            reason = problems[pos].reason if pos in problems else "未能分办"
            values = (*empty_cells, f"是：无法分办——{reason}", label.get(pos, ""), version)
        else:
            values = (*r.cells[:8], label.get(pos, ""), r.cells[8])
        for name, value in zip(ADDED_COLUMNS, values, strict=True):
            added[name].append(value)
    out = base.copy()
    for name in ADDED_COLUMNS:
        out[name] = pd.Series(added[name], index=base.index, dtype=object)
    return out, replaced
