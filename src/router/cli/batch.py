"""`router batch`: a whole ledger file routed row by row, optionally registered."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from router.cli.output import EXIT_INPUT, err, fail, out, say, serving_router
from router.files import os_reason
from router.settings import get_settings


def batch(
    input_file: Annotated[
        Path, typer.Argument(metavar="INPUT", help="台账文件：.xlsx、.xls 或 .csv（UTF-8 / GBK）")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="输出文件：.xlsx（含统计、问题行、并案）或 .csv")
    ],
    sheet: Annotated[str | None, typer.Option(help="工作表名称，默认自动选择")] = None,
    number_col: Annotated[
        str | None, typer.Option("--number-col", help="编号列：表头文字或列字母")
    ] = None,
    title_col: Annotated[
        str | None, typer.Option("--title-col", help="标题列：表头文字或列字母")
    ] = None,
    content_col: Annotated[
        str | None, typer.Option("--content-col", help="内容列：表头文字或列字母")
    ] = None,
    name_col: Annotated[str | None, typer.Option("--name-col", help="代表姓名列")] = None,
    deputy_unit_col: Annotated[
        str | None, typer.Option("--deputy-unit-col", help="代表单位列")
    ] = None,
    register: Annotated[
        bool,
        typer.Option("--register", help="同时登记到台账数据库（整份文件一个事务，可重复运行）"),
    ] = False,
    session: Annotated[
        str | None, typer.Option("--session", help="届次，如“十七届三次”；--register 时必填")
    ] = None,
    kind: Annotated[str, typer.Option(help="建议（人大代表）或提案（政协委员）")] = "建议",
    actor: Annotated[str, typer.Option(help="登记人，记入台账的修改记录")] = "批量导入",
    workers: Annotated[
        int | None, typer.Option(help="分办进程数；默认按 CPU 核数（2 000 行以上才启用多进程）")
    ] = None,
) -> None:
    """把整份台账逐行分办，输出带建议承办单位、统计、问题行和并案组的《一览表》。"""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from sqlalchemy.exc import SQLAlchemyError

    from router.sheets.batch import BatchOptions, route_table, start_input
    from router.sheets.columns import ColumnError
    from router.sheets.read import TableError
    from router.sheets.register import register_and_write
    from router.sheets.write import atomic_path, check_output_path, write_output

    settings = get_settings()
    if register and not (session and session.strip()):
        raise fail("--register 需要同时给出届次：--session 名称（如“十七届三次”）。", EXIT_INPUT)
    if session is not None:
        from router.core.text import clean_text, normalize

        try:
            session = normalize(clean_text(session, multiline=False, fold=True))
        except ValueError as exc:
            raise fail(f"--session 届次{exc}。", EXIT_INPUT) from exc
        if register and not 0 < len(session) <= 64:
            raise fail("--session 届次不能为空，且不超过 64 字。", EXIT_INPUT)
    if kind not in ("建议", "提案"):
        raise fail("--kind 只能是“建议”或“提案”。", EXIT_INPUT)
    overrides = {
        "number": number_col,
        "title": title_col,
        "content": content_col,
        "deputy_name": name_col,
        "deputy_unit": deputy_unit_col,
    }
    options = BatchOptions.from_settings(
        settings, overrides=overrides, sheet=sheet, workers=max(1, workers or os.cpu_count() or 1)
    )
    started = time.perf_counter()
    try:
        check_output_path(output, input_file)
        say(f"正在读取 {input_file} ……")
        finish = start_input(input_file, options)
        early = _model_meanwhile(settings)
        table, columns = finish()
        read_seconds = time.perf_counter() - started
    except (TableError, ColumnError) as exc:
        raise fail(str(exc), EXIT_INPUT) from exc
    say(table.describe())
    if table.other_sheets:
        err.print(f"[bold yellow]注意：[/]{table.other_sheets_note()}")
    for line in columns.describe():
        say("  " + line)
    router = early if early is not None else serving_router(settings)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        auto_refresh=False,  # no refresh thread: the rows may be routed on forked processes
    ) as bar:
        task = bar.add_task("分办", total=len(table.frame))
        merging = bar.add_task("并案（比对相似建议）", total=3, visible=False)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, refresh=True)

        def merge_progress(step: int, steps: int) -> None:
            what = ("计算词权重", "查找相似的建议", "分组", "完成")[min(step, 3)]
            bar.update(
                merging,
                completed=step,
                total=steps,
                visible=True,
                description=f"并案：{what}",
                refresh=True,
            )

        result = route_table(
            router,
            table,
            columns,
            options,
            progress,
            keep_decisions=register,
            merge_progress=merge_progress,
        )
    try:
        write_started = time.perf_counter()
        with atomic_path(output) as tmp:
            if register:
                assert session is not None
                register_and_write(
                    settings.db_url,
                    result,
                    session.strip(),
                    actor=actor,
                    kind=kind,
                    write=lambda: write_output(result, tmp),
                )
            else:
                write_output(result, tmp)
    except (TableError, ColumnError) as exc:
        raise fail(str(exc), EXIT_INPUT) from exc
    except OSError as exc:
        raise fail(f"无法写入 {output}：{os_reason(exc)}") from exc
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise fail(
            f"无法登记到台账数据库（{reason}）；未写出结果文件，台账未作任何修改。请确认数据库可用后重试。"
        ) from exc
    result.seconds.update(
        read=round(read_seconds, 3), write=round(time.perf_counter() - write_started, 3)
    )
    _print_batch_summary(result, output, time.perf_counter() - started)


def _print_batch_summary(result: Any, output: Path, seconds: float) -> None:
    s = result.summary()
    total = s["rows"]
    table = Table(title=f"批量分办完成：{total} 行，用时 {seconds:.1f} 秒", show_header=True)
    table.add_column("项目")
    table.add_column("件数", justify="right")
    table.add_column("占比", justify="right")

    def row(name: str, n: int) -> None:
        table.add_row(name, str(n), f"{n / total:.0%}" if total else "")

    row("已给出建议", s["routed"])
    row("  可批量确认", s["confirmable"])
    row("  无需复核，但应逐件确认", s["routed"] - s["needs_review"] - s["confirmable"])
    row("  需人工复核", s["needs_review"])
    row("问题行（无法分办）", s["problems"])
    for unit, n in s["per_unit"].items():
        row(f"  建议 {unit}", n)
    row("并案涉及行数", s["grouped_rows"])
    out.print(table)
    out.print(
        f"并案 {s['groups']} 组（其中重复件 {s['duplicate_rows']} 行）；跳过空行 {s['blank_rows_skipped']} 行；模型版本 {s['model_version']}。"
    )
    _first_rows(result.problems, "问题行", "行")
    if result.table.other_sheets:
        out.print(f"[bold yellow]注意：[/]{result.table.other_sheets_note()}")
    if result.replaced_columns:
        out.print(f"输入中已有的列 {'、'.join(result.replaced_columns)} 已由本次结果替换。")
    reg = result.registration
    if reg is not None:
        out.print(
            f"已登记到台账（届次“{reg.session}”）：新登记 {reg.created} 件，已在台账中 {reg.existing} 件，未登记 {len(reg.problems)} 件。"
        )
        _first_rows(reg.problems, "未登记", "行未登记")
    if output.suffix.lower() == ".csv":
        out.print("[dim]CSV 只含一览表；统计、问题行和并案请输出为 .xlsx。[/]")
    t = result.seconds
    out.print(
        f"[dim]读取 {t.get('read', 0):.1f} 秒，分办 {t.get('route', 0):.1f} 秒，并案 {t.get('group', 0):.1f} 秒，写出 {t.get('write', 0):.1f} 秒。[/]"
    )
    out.print(f"已写入 {output}")


def _first_rows(problems: Any, tag: str, rest: str) -> None:
    """The first five of some rows with their reasons, and how many more the sheet lists."""
    for p in problems[:5]:
        out.print(f"  [yellow]{tag}[/] 第 {p.row} 行 {p.number}：{p.reason}")
    if len(problems) > 5:
        out.print(f"  ……另有 {len(problems) - 5} {rest}，见“问题行”工作表。")


def _model_meanwhile(settings: Any) -> Any:
    """The serving model, loaded while the reading child parses the workbook (both take
    about half a second), when one is registered. Otherwise, or when loading fails, None:
    the model is then loaded (or trained, or its error reported) after the read, as always."""
    from router.learn.load import load_router
    from router.learn.registry import Registry

    try:
        if Registry(settings.models_path).current() is None:
            return None
        return load_router(settings)
    except Exception:  # noqa: BLE001 - reported in its place by serving_router
        return None
