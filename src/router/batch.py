"""Routing a whole session's ledger at once: from a table to a routed 《一览表》.

The steps, each a plain function so that the command line and the API share them:

1. :func:`load_input` reads the file (:mod:`router.tables`) and finds the columns
   (:mod:`router.columns`);
2. :func:`route_table` routes every row (vectorised, in chunks, optionally on two processes),
   groups proposals about the same issue (并案), lists the rows it could not route and counts
   everything for the 统计 sheet;
3. :func:`register_rows` (optional) records every routed row in the ledger inside the caller's
   transaction, idempotently;
4. :func:`write_output` writes .xlsx (with the 统计, 问题行 and 并案 sheets and a native bar
   chart) or .csv, and :func:`atomic_path` makes sure no partial file is ever left behind.

并案 thresholds, measured by ``bench/merge_thresholds.py`` (figures in
``bench/results/merge_thresholds.json``). Similarity is the TF-IDF cosine over the domain
tokenizer's words, fitted on the batch itself, so that words every row shares weigh little.

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

import math
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from router.columns import Columns, find_columns
from router.routing import Decision, InputError, Router, route_many
from router.similarity import Source, cosine_pair_arrays, tfidf_rows
from router.tables import Table, TableError, read_table, read_table_bytes
from router.text import prepare

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from router.settings import Settings

__all__ = [
    "ADDED_COLUMNS",
    "OUTPUT_EXTENSIONS",
    "BatchOptions",
    "BatchResult",
    "MergeGroup",
    "Problem",
    "Registration",
    "atomic_path",
    "check_output_path",
    "group_similar",
    "load_input",
    "register_rows",
    "route_table",
    "safe_text",
    "write_output",
]

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
OUTPUT_EXTENSIONS = (".xlsx", ".csv")
JURISDICTION_NAMES = {"police": "公安职责", "partial": "部分非公安职责", "outside": "非公安职责"}
SHEETS = ("一览表", "统计", "问题行", "并案")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Progress = Callable[[int, int], None]


# -- options and results ------------------------------------------------------------------
@dataclass(frozen=True)
class BatchOptions:
    overrides: Mapping[str, str | None] = field(default_factory=dict)
    sheet: str | None = None
    chunk: int = 500
    workers: int = 1  # 2 or more: route on that many processes when the file is large
    parallel_min_rows: int = 2000
    duplicate_threshold: float = 0.8
    related_threshold: float = 0.35
    max_bytes: int | None = None
    max_rows: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BatchOptions:
        base: dict[str, Any] = {
            "duplicate_threshold": settings.duplicate_threshold,
            "related_threshold": settings.related_threshold,
            "max_bytes": settings.batch_max_file_mb * 1024 * 1024,
            "max_rows": settings.batch_max_rows,
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


@dataclass(frozen=True)
class MergeGroup:
    """Rows about the same issue; ``duplicates`` maps a row to the earlier row it copies."""

    name: str
    positions: tuple[int, ...]
    duplicates: dict[int, int]
    max_similarity: float

    @property
    def kind(self) -> str:
        if len(self.duplicates) == len(self.positions) - 1:
            return "重复"
        return "重复+相关" if self.duplicates else "相关"


@dataclass
class Registration:
    session: str
    created: int = 0
    existing: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Routed:
    """What the output needs from one decision, small enough to pass between processes."""

    cells: tuple[Any, ...]  # the added columns except 并案组, in ADDED_COLUMNS order
    unit: str  # lead unit label, or the outside label
    jurisdiction: str
    departments: tuple[str, ...]
    co_units: tuple[str, ...]
    needs_review: bool
    reason_kinds: tuple[str, ...]


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
    registration: Registration | None = None
    replaced_columns: list[str] = field(default_factory=list)
    thresholds: tuple[float, float] = (0.8, 0.35)  # duplicate, related

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
        return sum(1 for r in self.routed if r is not None and not r.needs_review)

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
            "groups": len(self.groups),
            "grouped_rows": sum(len(g.positions) for g in self.groups),
            "duplicate_rows": sum(len(g.duplicates) for g in self.groups),
            "per_unit": dict(per_unit.most_common()),
            "model_version": self.model_version,
        }


# -- 1. input -----------------------------------------------------------------------------
def load_input(
    source: Path | str | tuple[bytes, str], options: BatchOptions
) -> tuple[Table, Columns]:
    """Read the file and find its columns; raises TableError or ColumnError (Chinese)."""
    extra = [v for v in options.overrides.values() if v]
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
    return table, find_columns(table, options.overrides)


# -- 2. routing ---------------------------------------------------------------------------
def route_table(
    router: Router,
    table: Table,
    columns: Columns,
    options: BatchOptions | None = None,
    progress: Progress | None = None,
    *,
    keep_decisions: bool = False,
) -> BatchResult:
    """Route every row; rows that cannot be routed stay in place and are listed as problems.

    ``keep_decisions`` keeps the full :class:`Decision` of each row, which registration needs.
    """
    options = options or BatchOptions()
    clock = time.perf_counter()
    df = table.frame
    n = len(df)
    titles = _column(df, columns.title)
    contents = _column(df, columns.content)
    numbers = _column(df, columns.number)
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
    routed_items, decisions_items, words_items = _route_all(
        router, items, options, progress, keep_decisions
    )
    routed: list[_Routed | None] = [None] * n
    decisions: list[Decision | None] = [None] * n
    words: list[list[str]] = [[] for _ in range(n)]
    for k, pos in enumerate(todo):
        out = routed_items[k]
        if isinstance(out, str):
            problems[pos] = Problem(rows[pos], numbers[pos], titles[pos], out)
        else:
            routed[pos] = out
            words[pos] = words_items[k]
            if keep_decisions:
                decisions[pos] = decisions_items[k]
    t_route = time.perf_counter() - clock

    clock = time.perf_counter()
    ok = [p for p in range(n) if routed[p] is not None]
    groups = group_similar(
        [(titles[p], contents[p]) for p in ok],
        options.duplicate_threshold,
        options.related_threshold,
        processes=min(options.workers, os.cpu_count() or 1),
        tokens=[words[p] for p in ok],  # segmented once, while routing
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
        seconds={"route": round(t_route, 3), "group": round(t_group, 3)},
        replaced_columns=replaced,
        thresholds=(options.duplicate_threshold, options.related_threshold),
    )


def _column(df: pd.DataFrame, col: str | None) -> list[str]:
    if col is None:
        return [""] * len(df)
    return [str(v) for v in df[col].tolist()]


def _route_all(
    router: Router,
    items: list[tuple[str, str]],
    options: BatchOptions,
    progress: Progress | None,
    keep: bool,
) -> tuple[list[_Routed | str], list[Decision | None], list[list[str]]]:
    """Each item's compact result (or error), its full decision when ``keep``, its tokens."""
    total = len(items)
    chunk = max(1, options.chunk)
    chunks = [items[i : i + chunk] for i in range(0, total, chunk)]
    routed: list[_Routed | str] = []
    decisions: list[Decision | None] = []
    words: list[list[str]] = []
    done = 0
    if progress:
        progress(0, total)
    workers = min(options.workers, os.cpu_count() or 1)
    if workers > 1 and total >= options.parallel_min_rows and not keep:
        # fork: the children share the loaded model instead of unpickling it
        global _WORKER_ROUTER
        _WORKER_ROUTER = router
        try:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                for part, part_words in pool.map(_route_chunk_in_worker, chunks):
                    routed.extend(part)
                    words.extend(w.split("\n") if w else [] for w in part_words)
                    done += len(part)
                    if progress:
                        progress(done, total)
        finally:
            _WORKER_ROUTER = None
        return routed, [None] * total, words
    for part_items in chunks:
        results = route_many(router, part_items, words_out=words)
        for res in results:
            if isinstance(res, InputError):
                routed.append(str(res))
                decisions.append(None)
            else:
                routed.append(_compact(res, router))
                decisions.append(res if keep else None)
        done += len(part_items)
        if progress:
            progress(done, total)
    return routed, decisions, words


_WORKER_ROUTER: Router | None = None


def _route_chunk_in_worker(
    items: list[tuple[str, str]],
) -> tuple[list[_Routed | str], list[str]]:
    """Results and tokens of a chunk; each row's tokens travel as one line-joined string,
    several times cheaper to pass between processes than lists of short strings."""
    router = _WORKER_ROUTER
    assert router is not None, "worker started without a router"
    words: list[list[str]] = []
    results = route_many(router, items, words_out=words)
    return [
        str(res) if isinstance(res, InputError) else _compact(res, router) for res in results
    ], ["\n".join(w) for w in words]


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
    )


def group_similar(
    texts: Sequence[Source],
    duplicate: float,
    related: float,
    *,
    processes: int = 1,
    tokens: Sequence[Sequence[str]] | None = None,
) -> list[MergeGroup]:
    """并案 groups: connected rows whose similarity reaches ``related``; copies marked.

    Positions are indices into ``texts`` (prepared texts, or (title, body) pairs, which are
    then prepared on the process that segments them); a row is a duplicate of the earliest
    row in its group it resembles at ``duplicate`` or more. ``processes`` > 1 lets a large
    batch use a second, forked process; ``tokens``, each text's tokens from routing it, spare
    segmenting the texts again.
    """
    n = len(texts)
    if n < 2:
        return []
    rows = tfidf_rows(texts, words=True, processes=processes, tokens=tokens)
    i, j, sim = cosine_pair_arrays(rows, min(related, duplicate), processes=processes)
    if i.size == 0:
        return []
    edges = sparse.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    count, label = connected_components(edges, directed=False)
    size = np.bincount(label, minlength=count)
    root = np.full(count, n)
    np.minimum.at(root, label, np.arange(n))
    top = np.zeros(count)
    np.maximum.at(top, label[i], sim)
    copy = sim >= duplicate
    first = np.lexsort((i[copy], j[copy]))  # by copy, then by the row it copies
    copies, originals = j[copy][first], i[copy][first]
    earliest = np.ones(copies.size, dtype=bool)
    earliest[1:] = copies[1:] != copies[:-1]
    best_dup = dict(zip(copies[earliest].tolist(), originals[earliest].tolist(), strict=True))
    members = np.argsort(label, kind="stable")
    bounds = np.r_[0, np.cumsum(size)]
    groups: list[MergeGroup] = []
    for k in sorted(np.flatnonzero(size > 1).tolist(), key=lambda k: int(root[k])):
        positions = tuple(members[bounds[k] : bounds[k + 1]].tolist())
        dups = {p: best_dup[p] for p in positions if p in best_dup}
        groups.append(
            MergeGroup(f"并案{len(groups) + 1}", positions, dups, round(float(top[k]), 3))
        )
    return groups


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
            label[pos] = f"{g.name}（与第 {rows[orig]} 行重复）"
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


# -- 3. registration ----------------------------------------------------------------------
_REG_FIELDS = {
    "number": "编号",
    "session": "届次",
    "title": "标题",
    "content": "内容",
    "deputy_name": "代表姓名",
    "deputy_unit": "代表单位",
}


def register_rows(
    db: Session,
    result: BatchResult,
    session_name: str,
    *,
    actor: str,
    kind: str = "建议",
) -> Registration:
    """Register every routed row in the ledger, inside the caller's transaction.

    A (届次, 编号) already in the ledger is not registered again, so running a file twice
    registers nothing twice. Rows that cannot be registered (no number, a number repeated
    with other text, a field too long) are listed as problems; nothing is committed here.
    """
    from pydantic import ValidationError

    from router.ledger import ProposalCreate, register_proposals

    if result.columns.number is None:
        raise TableError(
            "登记台帐需要“编号”列（编号、建议号或序号），表中没有找到；可用 --number-col 指定。"
        )
    cols = result.columns
    df = result.table.frame
    reg = Registration(session=session_name)
    items: list[Any] = []
    suggestions: list[Decision] = []
    where: list[int] = []
    seen: dict[str, tuple[int, str]] = {}
    values = {
        role: _column(df, cols.get(role))
        for role in ("number", "title", "content", "deputy_name", "deputy_unit")
    }
    for pos, decision in enumerate(result.decisions):
        row = result.table.rows[pos]
        number, title = values["number"][pos], values["title"][pos]
        if result.routed[pos] is None:
            continue  # already a 分办 problem: not registered, listed once
        if decision is None:
            raise ValueError("route_table(..., keep_decisions=True) is needed to register")
        try:
            item = ProposalCreate(
                number=number,
                session=session_name,
                kind=kind,  # type: ignore[arg-type]
                deputy_name=values["deputy_name"][pos],
                deputy_unit=values["deputy_unit"][pos],
                title=title,
                content=values["content"][pos],
            )
        except ValidationError as exc:
            reg.problems.append(
                Problem(row, number, title, "无法登记：" + _validation_reason(exc), "登记")
            )
            continue
        text = prepare(item.title, item.content)
        if item.number in seen:
            first_row, first_text = seen[item.number]
            if first_text != text:
                reg.problems.append(
                    Problem(
                        row,
                        number,
                        title,
                        f"无法登记：编号“{item.number}”与第 {first_row} 行相同而内容不同",
                        "登记",
                    )
                )
                continue
        else:
            seen[item.number] = (row, text)
        items.append(item)
        suggestions.append(decision)
        where.append(pos)
    outcomes = register_proposals(db, items, suggestions, actor=actor)
    counted: set[tuple[str, str]] = set()
    for pos, item, outcome in zip(where, items, outcomes, strict=True):
        key = (item.session, item.number)
        if outcome.created:
            reg.created += 1
            counted.add(key)
        elif key in counted or outcome.same:
            reg.existing += 1
        else:
            reg.problems.append(
                Problem(
                    result.table.rows[pos],
                    item.number,
                    item.title,
                    f"未登记：台帐中届次“{item.session}”编号“{item.number}”已有内容不同的建议，未作修改",
                    "登记",
                )
            )
    result.registration = reg
    return reg


def _validation_reason(exc: Any) -> str:
    parts = []
    for err in exc.errors()[:3]:
        name = _REG_FIELDS.get(str(err.get("loc", ("",))[0]), str(err.get("loc", ("",))[0]))
        kind = err.get("type", "")
        ctx = err.get("ctx") or {}
        if kind in ("string_too_short", "missing") or (
            kind == "value_error" and "不能为空" in str(ctx.get("error", ""))
        ):
            parts.append(f"{name}为空")
        elif kind == "string_too_long":
            parts.append(f"{name}超过 {ctx.get('max_length')} 字")
        else:
            parts.append(f"{name}格式不正确")
    return "；".join(parts) or "内容不符合台帐要求"


# -- 4. output ----------------------------------------------------------------------------
@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary file beside ``dest`` that replaces it only if the block succeeds."""
    dest = Path(dest)
    fd, name = tempfile.mkstemp(prefix=f".~{dest.stem}-", suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_output_path(output: Path, source: Path | None = None) -> None:
    """Refuse an output the clerk would regret: wrong type, missing folder, the input itself."""
    if output.suffix.lower() not in OUTPUT_EXTENSIONS:
        raise TableError(
            f"输出文件应为 .xlsx 或 .csv，而不是“{output.suffix or '（无扩展名）'}”。", 400
        )
    if not output.parent.is_dir():
        raise TableError(f"输出目录 {output.parent} 不存在。", 400)
    if source is not None and output.resolve() == Path(source).resolve():
        raise TableError("输出文件不能与输入文件相同：原始台帐不应被覆盖。", 400)


def write_output(result: BatchResult, target: Path | IO[bytes], fmt: str | None = None) -> None:
    """Write .xlsx (four sheets and a chart) or .csv (the routed table only, UTF-8 with BOM)."""
    fmt = fmt or (
        Path(target).suffix.lower().lstrip(".") if isinstance(target, Path | str) else "xlsx"
    )
    if fmt == "csv":
        _write_csv(result, target)
    elif fmt == "xlsx":
        _write_xlsx(result, target)
    else:
        raise TableError(f"不支持的输出格式：{fmt}", 400)


def safe_text(value: str) -> str:
    """A cell for CSV that Excel will not run as a formula: a leading quote, as Excel does."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _write_csv(result: BatchResult, target: Path | IO[bytes]) -> None:
    frame = result.frame.map(lambda v: safe_text(v) if isinstance(v, str) else v)
    data = frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if isinstance(target, Path | str):
        Path(target).write_bytes(data)
    else:
        target.write(data)


def _write_xlsx(result: BatchResult, target: Path | IO[bytes]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        target if isinstance(target, Path | str) else target,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        fmt = _Formats(wb)
        _sheet_ledger(wb, fmt, result)
        _sheet_stats(wb, fmt, result)
        _sheet_problems(wb, fmt, result)
        _sheet_groups(wb, fmt, result)
    finally:
        wb.close()


class _Formats:
    def __init__(self, wb: Any) -> None:
        self.head = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
        )
        self.added = wb.add_format(
            {"bold": True, "bg_color": "#FCE4D6", "border": 1, "text_wrap": True, "valign": "top"}
        )
        self.text = wb.add_format({"valign": "top"})
        self.wrap = wb.add_format({"valign": "top", "text_wrap": True})
        self.quoted = wb.add_format({"valign": "top", "quote_prefix": True})
        self.pct = wb.add_format({"valign": "top", "num_format": "0%"})
        self.review = wb.add_format({"valign": "top", "font_color": "#C00000"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.section = wb.add_format({"bold": True, "font_size": 12})
        self.int = wb.add_format({"num_format": "0"})


def _put(ws: Any, r: int, c: int, value: Any, fmt: _Formats, style: Any = None) -> None:
    """Every text is written as text; one that starts like a formula keeps Excel's quote
    prefix, so that Excel shows it and never evaluates it (not even after an edit)."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, bool):
        ws.write_string(r, c, "是" if value else "否", style or fmt.text)
    elif isinstance(value, int | float):
        ws.write_number(r, c, value, style or fmt.text)
    else:
        text = str(value)
        if text.startswith(_FORMULA_START):
            ws.write_string(r, c, text, fmt.quoted)
        else:
            ws.write_string(r, c, text, style or fmt.text)


def _sheet_ledger(wb: Any, fmt: _Formats, result: BatchResult) -> None:
    ws = wb.add_worksheet(SHEETS[0])
    frame = result.frame
    names = list(frame.columns)
    added_from = len(names) - len(ADDED_COLUMNS)
    for c, name in enumerate(names):
        ws.write_string(0, c, str(name), fmt.added if c >= added_from else fmt.head)
    pct_col = names.index("置信度")
    review_col = names.index("需人工复核")
    wrap_cols = {c for c, n in enumerate(names) if n in ("判定依据",)}
    widths = [min(40, max(6, len(str(n)) * 2 + 2)) for n in names]
    for r, values in enumerate(frame.itertuples(index=False, name=None), start=1):
        for c, v in enumerate(values):
            style = (
                fmt.pct
                if c == pct_col
                else fmt.review
                if (c == review_col and str(v).startswith("是"))
                else (fmt.wrap if c in wrap_cols else None)
            )
            _put(ws, r, c, v, fmt, style)
    for c, w in enumerate(widths):
        name = names[c]
        if name in (result.columns.title or "", result.columns.content or ""):
            w = 40 if name == result.columns.title else 60
        ws.set_column(c, c, w)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(1, len(frame)), len(names) - 1)
    ws.ignore_errors({"number_stored_as_text": f"A1:{_col(len(names) - 1)}{len(frame) + 1}"})


def _col(index: int) -> str:
    from router.columns import column_letter

    return column_letter(index)


def _share_table(
    ws: Any, fmt: _Formats, r: int, title: str, first: str, rows: list[tuple[str, int]], total: int
) -> int:
    """A titled section of (name, count, share of all data rows) lines; returns the next row."""
    ws.write_string(r, 0, title, fmt.section)
    for c, h in enumerate((first, "件数", "占比")):
        ws.write_string(r + 1, c, h, fmt.head)
    r += 2
    for name, value in rows:
        ws.write_string(r, 0, name)
        ws.write_number(r, 1, value)
        ws.write_number(r, 2, value / total if total else 0, fmt.pct)
        r += 1
    return r


def _sheet_stats(wb: Any, fmt: _Formats, result: BatchResult) -> None:
    from router.labels import load_labels

    ws = wb.add_worksheet(SHEETS[1])
    labels = load_labels()
    s = result.summary()
    total = result.total
    routed = [r for r in result.routed if r is not None]
    ws.set_column(0, 0, 26)
    ws.set_column(1, 5, 14)
    ws.write_string(0, 0, "批量分办统计", fmt.title)
    r = 2
    ws.write_string(r, 0, "概况", fmt.section)
    r += 1
    overview: list[tuple[str, Any]] = [
        ("源文件", result.table.source),
        ("工作表", result.table.sheet or "（CSV）"),
        ("表头所在行", "、".join(str(x) for x in result.table.header_rows)),
        ("数据行数", total),
        ("已给出分办建议", s["routed"]),
        ("问题行（无法分办）", s["problems"]),
        ("跳过的空行（不计入数据行）", s["blank_rows_skipped"]),
        ("需人工复核", s["needs_review"]),
        ("可批量确认", s["confirmable"]),
        ("可批量确认占全部数据行", s["confirmable_share"]),
        ("并案组数", s["groups"]),
        ("并案涉及行数", s["grouped_rows"]),
        ("其中重复件", s["duplicate_rows"]),
        ("模型版本", result.model_version),
        ("生成时间（UTC）", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
    ]
    if result.registration is not None:
        reg = result.registration
        overview += [
            ("登记届次", reg.session),
            ("新登记", reg.created),
            ("台帐中已有（未重复登记）", reg.existing),
            ("未登记（见问题行）", len(reg.problems)),
        ]
    for name, value in overview:
        ws.write_string(r, 0, name)
        _put(ws, r, 1, value, fmt, fmt.pct if name == "可批量确认占全部数据行" else None)
        r += 1

    r += 1
    ws.write_string(r, 0, "各承办单位件数（建议主办）", fmt.section)
    r += 1
    for c, h in enumerate(("单位", "单位全称", "主办件数", "占比", "其中需复核", "建议会办件数")):
        ws.write_string(r, c, h, fmt.head)
    r += 1
    lead = Counter(x.unit for x in routed)
    review = Counter(x.unit for x in routed if x.needs_review)
    co = Counter(u for x in routed for u in x.co_units)
    unit_rows = [(u.label, u.unit) for u in labels.units] + [(labels.outside, "转有关部门")]
    chart_first = r
    for label, full in unit_rows:
        ws.write_string(r, 0, label)
        ws.write_string(r, 1, full)
        ws.write_number(r, 2, lead.get(label, 0))
        ws.write_number(r, 3, lead.get(label, 0) / total if total else 0, fmt.pct)
        ws.write_number(r, 4, review.get(label, 0))
        ws.write_number(r, 5, co.get(label, 0))
        r += 1
    chart_last = r - 1
    ws.write_string(r, 0, "无法分办（问题行）")
    ws.write_number(r, 2, s["problems"])
    ws.write_number(r, 3, s["problems"] / total if total else 0, fmt.pct)
    r += 1
    ws.write_string(r, 0, "合计", fmt.head)
    ws.write_number(r, 2, total)
    r += 2

    jur = Counter(x.jurisdiction for x in routed)
    jur_rows = [(name, jur.get(key, 0)) for key, name in JURISDICTION_NAMES.items()]
    jur_rows.append(("无法分办（问题行）", s["problems"]))
    r = _share_table(ws, fmt, r, "职责判定", "判定", jur_rows, total) + 1

    review_rows: list[tuple[str, int]] = [
        ("可批量确认", s["confirmable"]),
        ("需人工复核", s["needs_review"]),
        ("无法分办（问题行）", s["problems"]),
    ]
    r = _share_table(ws, fmt, r, "复核需求", "类别", review_rows, total)
    kinds = Counter(k for x in routed for k in x.reason_kinds)
    for name, value in kinds.most_common():
        ws.write_string(r, 0, f"  复核原因：{name}")
        ws.write_number(r, 1, value)
        r += 1
    r += 1

    deps = Counter(d for x in routed for d in x.departments)
    if deps:
        ws.write_string(r, 0, "建议转交部门（全部或部分内容）", fmt.section)
        r += 1
        for c, h in enumerate(("部门", "件数")):
            ws.write_string(r, c, h, fmt.head)
        r += 1
        for name, value in deps.most_common():
            ws.write_string(r, 0, name)
            ws.write_number(r, 1, value)
            r += 1

    chart = wb.add_chart({"type": "bar"})
    chart.add_series(
        {
            "name": "建议主办件数",
            "categories": [SHEETS[1], chart_first, 0, chart_last, 0],
            "values": [SHEETS[1], chart_first, 2, chart_last, 2],
            "data_labels": {"value": True},
            "fill": {"color": "#4472C4"},
        }
    )
    chart.set_title({"name": "各承办单位建议件数"})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})
    chart.set_x_axis({"name": "件数"})
    chart.set_size({"width": 620, "height": 360})
    ws.insert_chart(2, 7, chart)


def _sheet_problems(wb: Any, fmt: _Formats, result: BatchResult) -> None:
    ws = wb.add_worksheet(SHEETS[2])
    heads = ("行号", "编号", "标题", "环节", "原因")
    for c, h in enumerate(heads):
        ws.write_string(0, c, h, fmt.head)
    problems = list(result.problems)
    if result.registration is not None:
        problems += result.registration.problems
    problems.sort(key=lambda p: (p.row, p.stage))
    for r, p in enumerate(problems, start=1):
        ws.write_number(r, 0, p.row)
        _put(ws, r, 1, p.number, fmt)
        _put(ws, r, 2, p.title, fmt)
        ws.write_string(r, 3, p.stage)
        _put(ws, r, 4, p.reason, fmt)
    if not problems:
        ws.write_string(1, 0, "没有问题行：每一行都已给出分办建议。")
    ws.set_column(0, 1, 10)
    ws.set_column(2, 2, 40)
    ws.set_column(3, 3, 8)
    ws.set_column(4, 4, 60)
    ws.freeze_panes(1, 0)


def _sheet_groups(wb: Any, fmt: _Formats, result: BatchResult) -> None:
    ws = wb.add_worksheet(SHEETS[3])
    heads = (
        "并案组",
        "类别",
        "行号",
        "编号",
        "代表",
        "标题",
        "建议承办单位",
        "与本组何行重复",
        "组内最高相似度",
    )
    for c, h in enumerate(heads):
        ws.write_string(0, c, h, fmt.head)
    cols = result.columns
    df = result.table.frame
    numbers, names, titles = (
        _column(df, cols.number),
        _column(df, cols.deputy_name),
        _column(df, cols.title),
    )
    rows = result.table.rows
    r = 1
    for g in result.groups:
        for pos in g.positions:
            routed = result.routed[pos]
            ws.write_string(r, 0, g.name)
            ws.write_string(r, 1, g.kind)
            ws.write_number(r, 2, rows[pos])
            _put(ws, r, 3, numbers[pos], fmt)
            _put(ws, r, 4, names[pos], fmt)
            _put(ws, r, 5, titles[pos], fmt)
            _put(ws, r, 6, routed.unit if routed else "", fmt)
            if pos in g.duplicates:
                ws.write_string(r, 7, f"第 {rows[g.duplicates[pos]]} 行")
            ws.write_number(r, 8, g.max_similarity)
            r += 1
    if not result.groups:
        ws.write_string(1, 0, "未发现内容相同或相近的建议。")
    ws.write_string(
        r + 1,
        0,
        f"说明：相似度为按词计算的 TF-IDF 余弦；≥ {result.thresholds[0]} 记为重复件，"
        f"≥ {result.thresholds[1]} 记为相关，仅供并案参考，由人工决定是否并案办理。",
    )
    ws.set_column(0, 4, 10)
    ws.set_column(5, 5, 40)
    ws.set_column(6, 8, 14)
    ws.freeze_panes(1, 0)
