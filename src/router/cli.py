"""The command line: a thin layer over the core. Messages for people are in Chinese."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from router.cli_zh import install as _chinese_usage
from router.files import os_reason
from router.settings import Settings, get_settings

_chinese_usage()  # click's and typer's own words (usage errors, help) in Chinese

app = typer.Typer(
    help="人大代表建议分办助手：建议承办单位、职责判定与置信度。",
    no_args_is_help=True,
    add_completion=False,
)
models_app = typer.Typer(help="模型注册表：列出、比较、启用、回退。", no_args_is_help=True)
app.add_typer(models_app, name="models")
db_app = typer.Typer(help="台账数据库：结构升级。", no_args_is_help=True)
app.add_typer(db_app, name="db")
local_app = typer.Typer(
    help="本地职责：各地分工不同的事项（网吧、校园欺凌、高空抛物……）由本局设定承办方。",
    no_args_is_help=True,
)
app.add_typer(local_app, name="jurisdiction")

err = Console(stderr=True, soft_wrap=True)  # a sentence is never cut at 80 columns in a log
out = Console()

EXIT_INPUT = 2
_JSONL_CHUNK = 4000  # lines routed together: large enough to use both cores, small enough to stream
EXIT_FAILURE = 1


def _settings() -> Settings:
    return get_settings()


def _fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    err.print(f"[bold red]错误：[/]{message}")
    return typer.Exit(code)


def _say(message: str) -> None:
    err.print(f"[dim]{message}[/]")


def _load_router(settings: Settings) -> Any:
    from router.learn.dataset import CorpusError
    from router.learn.load import load_router
    from router.learn.registry import RegistryError

    try:
        return load_router(settings, say=_say)
    except (RegistryError, CorpusError) as exc:
        raise _fail(str(exc)) from exc


# -- train / evaluate ---------------------------------------------------------------------
@app.command()
def train(
    classifier: Annotated[str, typer.Option(help="svm（LinearSVC+校准）或 logreg")] = "svm",
    no_promote: Annotated[bool, typer.Option("--no-promote", help="只登记，不启用")] = False,
    no_cv: Annotated[bool, typer.Option("--no-cv", help="跳过交叉验证")] = False,
) -> None:
    """用 data/ 中的语料训练模型，登记到 models/ 并启用。"""
    from dataclasses import replace

    from router.learn.dataset import CorpusError
    from router.learn.train import DEFAULT_CONFIG
    from router.learn.train import train as do_train

    settings = _settings()
    if classifier not in ("svm", "logreg"):
        raise _fail("classifier 只能是 svm 或 logreg。", EXIT_INPUT)
    config = replace(DEFAULT_CONFIG, classifier=classifier)  # type: ignore[arg-type]
    try:
        result = do_train(settings, config, promote=not no_promote, cv=not no_cv, say=_say)
    except CorpusError as exc:
        raise _fail(str(exc), EXIT_INPUT) from exc
    _print_metrics(result.version, result.metrics)
    out.print(f"模型 {result.version} 已登记{'' if no_promote else '并启用'}。")


@app.command()
def evaluate(
    version: Annotated[str | None, typer.Option(help="要评估的版本，默认为正在服务的版本")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    compare: Annotated[
        bool, typer.Option("--compare", help="在训练集上交叉验证比较候选模型配置")
    ] = False,
) -> None:
    """在固定的留出集上评估模型：各单位 P/R/F1、宏 F1、仅标题、ECE、95% 准确率下的覆盖率；
    本机有真实留言验证集时（ROUTER_REAL_DEV_DIR），也报告真实文本上的各项指标。"""
    from router.learn.load import ensure_model
    from router.learn.registry import Registry, RegistryError

    settings = _settings()
    if compare:
        from router.learn.train import compare_configs

        compare_configs(settings, say=out.print)
        return
    registry = Registry(settings.models_path)
    try:
        version = version or ensure_model(settings, _say)
        metrics = registry.metrics(version)
        registry.load(version)
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    real = _real_text_metrics(settings, version)
    if as_json:
        payload = {"version": version, **metrics, "real_text": real}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    _print_metrics(version, metrics)
    if real is None:
        out.print("真实留言验证集：本机没有（ROUTER_REAL_DEV_DIR），跳过。")
    else:
        _print_real(real)


def _real_text_metrics(settings: Settings, version: str) -> dict[str, Any] | None:
    from router.learn.load import load_router
    from router.learn.realtext import evaluate_real

    if settings.real_dev_dir is None:
        return None
    return evaluate_real(load_router(settings, version), settings.real_dev_dir)


def _print_real(m: dict[str, Any]) -> None:
    out.print(
        f"真实留言验证集（{m['items']} 条：公安 {m['police_items']}，职责外 {m['outside_items']}）："
        f"单位准确率 {m['unit_accuracy']:.3f}，职责外识别 {m['outside_recall']:.3f}，"
        f"公安事项误判为职责外 {m['police_called_outside']:.3f}，ECE {m['ece']:.3f}"
    )
    out.print(
        f"可批量确认：{m['bulk_coverage']:.1%} 的事项，其中正确 {m['bulk_accuracy']:.1%}；"
        f"需人工复核 {m['review_share']:.1%}"
    )


def _print_metrics(version: str, m: dict[str, Any]) -> None:
    full, title = m["full"], m["title_only"]
    table = Table(title=f"模型 {version} 留出集评估（{full['n']} 条）")
    for col in ("单位", "精确率", "召回率", "F1", "样本数", "仅标题 F1"):
        table.add_column(col, justify="right" if col != "单位" else "left")
    for unit, s in full["per_unit"].items():
        t = title["per_unit"].get(unit, {})
        table.add_row(
            unit,
            f"{s['precision']:.3f}",
            f"{s['recall']:.3f}",
            f"{s['f1']:.3f}",
            str(s["support"]),
            f"{t.get('f1', 0):.3f}",
        )
    out.print(table)
    cov = full["coverage_95"]
    out.print(
        f"宏 F1（全文）：{full['macro_f1']:.3f}    宏 F1（仅标题）：{title['macro_f1']:.3f}    准确率：{full['accuracy']:.3f}"
    )
    out.print(f"校准误差 ECE：{full['ece']:.3f}（仅标题 {title['ece']:.3f}）")
    out.print(f"95% 准确率下可批量确认：{cov['coverage']:.1%}（置信度 ≥ {cov['threshold']:.2f}）")
    j = m.get("jurisdiction", {})
    if j:
        out.print(
            f"职责判定准确率：{j['accuracy']:.3f}（宏 F1 {j['macro_f1']:.3f}），职责外召回 {j['outside_recall']:.3f}，"
            f"责任部门命中 {j['department_hit_rate']:.3f}，需人工复核 {j['needs_review_share']:.1%}"
        )
    if "cross_validation" in m:
        cv = m["cross_validation"]
        out.print(
            f"交叉验证（训练集 {cv['folds']} 折）宏 F1：{cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}"
        )
    if "train_seconds" in m:
        out.print(f"训练用时：{m['train_seconds']:.2f} 秒")


# -- route --------------------------------------------------------------------------------
@app.command()
def route(
    text: Annotated[str | None, typer.Argument(help="建议正文（或标题+正文）")] = None,
    title: Annotated[str | None, typer.Option("--title", "-t", help="建议标题")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="从文本文件读取正文（UTF-8）")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出一个 JSON 对象")] = False,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="从标准输入逐行读取 JSON（title, content），逐行输出")
    ] = False,
) -> None:
    """为一条建议给出承办单位建议。"""
    from router.core.routing import route as do_route
    from router.core.suggestion import InputError

    settings = _settings()
    if jsonl:
        if text or file or title:
            raise _fail("--jsonl 从标准输入读取，不能同时给出正文、--title 或 --file。", EXIT_INPUT)
        router = _load_router(settings)
        _route_jsonl(router, sys.stdin.buffer, _JSONL_CHUNK)
        return
    content = text
    if file is not None:
        if text:
            raise _fail("正文和 --file 只能给一个。", EXIT_INPUT)
        try:
            content = file.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise _fail(f"无法读取文件 {file}：{os_reason(exc)}", EXIT_INPUT) from exc
        except UnicodeDecodeError as exc:
            raise _fail(f"无法读取文件 {file}：不是 UTF-8 编码的文本", EXIT_INPUT) from exc
    router = _load_router(settings)
    try:
        decision = do_route(router, title, content)
    except InputError as exc:
        raise _fail(str(exc), EXIT_INPUT) from exc
    if as_json:
        sys.stdout.write(decision.model_dump_json() + "\n")
    else:
        _print_decision(decision)


def _jsonl_items(lines: Any) -> Iterator[tuple[int, tuple[str | None, str | None] | str]]:
    """Each input line as (title, content), or as the Chinese reason it cannot be read.

    Lines may be bytes (standard input read as such): one that is not UTF-8 is an error of
    its own, not the end of the input.
    """
    from router.core.text import clean_text

    for n, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError:
                yield n, "不是 UTF-8 编码的文字"
                continue
        else:
            line = raw
        if not line.strip():
            yield n, "空行"
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield n, f"不是合法的 JSON：{getattr(exc, 'msg', '嵌套过深')}"
            continue
        if not isinstance(obj, dict):
            yield n, "每行应是一个 JSON 对象，含 title 和 content"
            continue
        title, content = obj.get("title"), obj.get("content")
        if not all(v is None or isinstance(v, str) for v in (title, content)):
            yield n, "title 和 content 必须是字符串"
            continue
        try:
            title = None if title is None else clean_text(title)
            content = None if content is None else clean_text(content)
        except ValueError as exc:
            yield n, str(exc)
            continue
        yield n, (title, content)


def _route_jsonl(router: Any, stream: Any, chunk: int) -> None:
    """Route in chunks (output keeps pace with input); large chunks use both cores."""
    from router.core.routing import route_many_json

    write = sys.stdout.write
    pending: list[tuple[int, tuple[str | None, str | None] | str]] = []
    processes = min(2, os.cpu_count() or 1)

    def error(n: int, message: str) -> str:
        return json.dumps({"line": n, "error": {"message": message}}, ensure_ascii=False)

    def decide(good: list[tuple[str | None, str | None]]) -> list[tuple[bool, str]]:
        try:
            return list(route_many_json(router, good, processes if len(good) >= 1000 else 1))
        except Exception:  # noqa: BLE001 - one line broke the chunk: route them one by one
            out: list[tuple[bool, str]] = []
            for item in good:
                try:
                    out.extend(route_many_json(router, [item], 1))
                except Exception as exc:  # noqa: BLE001 - that line's own error object
                    out.append((False, f"无法分办：{type(exc).__name__}"))
            return out

    def flush() -> None:
        good = [item for _, item in pending if not isinstance(item, str)]
        decided = iter(decide(good))
        lines = []
        for n, item in pending:
            if isinstance(item, str):
                lines.append(error(n, item))
                continue
            ok, payload = next(decided)
            lines.append(payload if ok else error(n, payload))
        write("\n".join(lines) + "\n" if lines else "")
        pending.clear()
        sys.stdout.flush()

    for n, item in _jsonl_items(stream):
        pending.append((n, item))
        if len(pending) >= chunk:
            flush()
    flush()


def _print_decision(d: Any) -> None:
    if d.jurisdiction == "outside":
        out.print(f"[bold yellow]非公安职责[/]（置信度 {d.confidence:.0%}）")
        out.print(f"建议转交：{'、'.join(d.departments) or '未能确定责任部门'}")
    else:
        out.print(
            f"建议承办单位：[bold green]{d.unit}[/]（{d.unit_name}），置信度 {d.confidence:.0%}"
        )
        if d.co_units:
            out.print(f"建议会办单位：{'、'.join(d.co_units)}")
        if d.jurisdiction == "partial":
            out.print(f"[yellow]部分内容非公安职责[/]，建议转交：{'、'.join(d.departments)}")
    if d.outside_parts:
        for p in d.outside_parts:
            out.print(f"  · {p.part} → {'、'.join(p.departments)}（依据：{'、'.join(p.words)}）")
    alts = "、".join(f"{a.unit} {a.confidence:.0%}" for a in d.alternatives)
    out.print(f"备选：{alts}")
    if d.top_terms:
        out.print(f"主要依据词：{'、'.join(t.term for t in d.top_terms)}")
    if d.needs_review:
        out.print(f"[bold red]需人工复核[/]：{'；'.join(d.review_reasons)}")
    else:
        out.print("可直接确认。")
    out.print(f"[dim]模型版本 {d.model_version}[/]")


# -- batch --------------------------------------------------------------------------------
@app.command()
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

    from router.sheets.batch import BatchOptions, load_input, route_table
    from router.sheets.columns import ColumnError
    from router.sheets.read import TableError
    from router.sheets.write import atomic_path, check_output_path, write_output

    settings = _settings()
    if register and not (session and session.strip()):
        raise _fail("--register 需要同时给出届次：--session 名称（如“十七届三次”）。", EXIT_INPUT)
    if session is not None:
        from router.core.text import clean_text, normalize

        try:
            session = normalize(clean_text(session, multiline=False, fold=True))
        except ValueError as exc:
            raise _fail(f"--session 届次{exc}。", EXIT_INPUT) from exc
        if register and not 0 < len(session) <= 64:
            raise _fail("--session 届次不能为空，且不超过 64 字。", EXIT_INPUT)
    if kind not in ("建议", "提案"):
        raise _fail("--kind 只能是“建议”或“提案”。", EXIT_INPUT)
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
        _say(f"正在读取 {input_file} ……")
        table, columns = load_input(input_file, options)
        read_seconds = time.perf_counter() - started
    except (TableError, ColumnError) as exc:
        raise _fail(str(exc), EXIT_INPUT) from exc
    _say(table.describe())
    if table.other_sheets:
        err.print(f"[bold yellow]注意：[/]{table.other_sheets_note()}")
    for line in columns.describe():
        _say("  " + line)
    router = _load_router(settings)
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
                _register_batch(
                    settings,
                    result,
                    session.strip(),
                    actor,
                    kind,
                    lambda: write_output(result, tmp),
                )
            else:
                write_output(result, tmp)
    except (TableError, ColumnError) as exc:
        raise _fail(str(exc), EXIT_INPUT) from exc
    except OSError as exc:
        raise _fail(f"无法写入 {output}：{os_reason(exc)}") from exc
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise _fail(
            f"无法登记到台账数据库（{reason}）；未写出结果文件，台账未作任何修改。请确认数据库可用后重试。"
        ) from exc
    result.seconds.update(
        read=round(read_seconds, 3), write=round(time.perf_counter() - write_started, 3)
    )
    _print_batch_summary(result, output, time.perf_counter() - started)


def _register_batch(
    settings: Settings, result: Any, session: str, actor: str, kind: str, write: Any
) -> None:
    """Register and write in one transaction: it commits only once the output is written."""
    from router.db import make_engine, make_sessionmaker, upgrade
    from router.ledger import commit_retrying
    from router.sheets.register import register_rows

    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        with sessions() as db:

            def work() -> None:
                register_rows(db, result, session, actor=actor, kind=kind)
                write()

            commit_retrying(db, work)
    finally:
        engine.dispose()


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
    for p in result.problems[:5]:
        out.print(f"  [yellow]问题行[/] 第 {p.row} 行 {p.number}：{p.reason}")
    if len(result.problems) > 5:
        out.print(f"  ……另有 {len(result.problems) - 5} 行，见“问题行”工作表。")
    if result.table.other_sheets:
        out.print(f"[bold yellow]注意：[/]{result.table.other_sheets_note()}")
    if result.replaced_columns:
        out.print(f"输入中已有的列 {'、'.join(result.replaced_columns)} 已由本次结果替换。")
    reg = result.registration
    if reg is not None:
        out.print(
            f"已登记到台账（届次“{reg.session}”）：新登记 {reg.created} 件，已在台账中 {reg.existing} 件，未登记 {len(reg.problems)} 件。"
        )
        for p in reg.problems[:5]:
            out.print(f"  [yellow]未登记[/] 第 {p.row} 行 {p.number}：{p.reason}")
        if len(reg.problems) > 5:
            out.print(f"  ……另有 {len(reg.problems) - 5} 行未登记，见“问题行”工作表。")
    if output.suffix.lower() == ".csv":
        out.print("[dim]CSV 只含一览表；统计、问题行和并案请输出为 .xlsx。[/]")
    t = result.seconds
    out.print(
        f"[dim]读取 {t.get('read', 0):.1f} 秒，分办 {t.get('route', 0):.1f} 秒，并案 {t.get('group', 0):.1f} 秒，写出 {t.get('write', 0):.1f} 秒。[/]"
    )
    out.print(f"已写入 {output}")


# -- retrain ------------------------------------------------------------------------------
EXIT_HELD = 3


@app.command()
def retrain(
    files: Annotated[
        list[Path] | None,
        typer.Option(
            "--file", "-f", help="往届已标注的台账（Excel/CSV，含“承办单位”列），可多次给出"
        ),
    ] = None,
    auto_promote: Annotated[
        bool,
        typer.Option(
            "--auto-promote",
            help="各项检查（不退步门槛、行为测试集、改判上限）都通过时直接启用；否则只登记，等待管理员启用",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="即使有检查未通过也启用，并记录为强制启用")
    ] = False,
    no_ledger: Annotated[bool, typer.Option("--no-ledger", help="不使用台账中的分办决定")] = False,
    no_cv: Annotated[bool, typer.Option("--no-cv", help="跳过交叉验证")] = False,
) -> None:
    """用语料、台账中的分办决定和往届台账训练候选模型，比较改判、运行行为测试，登记后等待管理员启用。

    退出码：0 已启用或待审批；3 候选被暂扣（有检查未通过），服务中的模型不变。
    """
    from router.learn.retrain import Example, RetrainError, file_examples, ledger_examples
    from router.learn.retrain import retrain as do_retrain

    settings = _settings()
    extra: list[Example] = []
    try:
        if not no_ledger:
            extra += ledger_examples(settings)
        for path in files or []:
            extra += file_examples(path)
        result = do_retrain(
            settings, extra, force=force, auto_promote=auto_promote, cv=not no_cv, say=_say
        )
    except RetrainError as exc:
        raise _fail(str(exc)) from exc
    v = result.verdict
    out.print(f"候选模型 {result.version}：宏 F1 {v.macro_f1[0]:.3f} → {v.macro_f1[1]:.3f}")
    for unit, (before, after) in v.recall.items():
        mark = "[red]↓[/]" if after < before else ""
        out.print(f"  {unit} 召回 {before:.3f} → {after:.3f} {mark}")
    if result.diff is not None:
        _print_diff(result.diff)
    if result.behaviour is not None:
        b = result.behaviour
        out.print(
            f"行为测试集：{b.total} 条，未通过 {len(b.failures)} 条。"
            if b.failures
            else f"行为测试集：{b.total} 条全部通过。"
        )
    for m in result.taught:
        if m.single_source:
            out.print(
                f"[yellow]⚠ {m.name} 的 {m.count} 条决定主要来自 {m.drivers[0].origin}（{m.drivers[0].count} 条）[/]"
            )
    if result.contradictions:
        out.print(
            f"[yellow]{len(result.contradictions)} 条决定与语料中几乎相同文本的标注相矛盾。[/]"
        )
    if result.forced:
        out.print(
            f"[yellow]有检查未通过，但按 --force 强制启用 {result.version}（已记录）：[/]{'；'.join(result.held_reasons)}"
        )
    elif result.status == "promoted":
        out.print(f"[green]各项检查通过，已启用 {result.version}。[/]")
    elif result.status == "pending":
        out.print(
            f"[green]各项检查通过。[/]候选 {result.version} 已登记，等待管理员启用：router models promote {result.version}"
        )
    else:
        out.print(
            f"[red]候选 {result.version} 被暂扣，继续使用原模型：[/]{'；'.join(result.held_reasons)}"
        )
    out.print(f"报告：{result.report}")
    if result.status == "held":
        raise typer.Exit(EXIT_HELD)


@app.command()
def calibrate(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="只计算并报告，不登记校准后的版本")
    ] = False,
) -> None:
    """用台帐中带模型建议的分办决定重新校准置信度和复核、批量确认阈值；数量不足时沿用原值。"""
    from router.learn.calibration import CalibrationError
    from router.learn.calibration import calibrate as do_calibrate

    settings = _settings()
    try:
        r = do_calibrate(settings, register=not dry_run)
    except CalibrationError as exc:
        raise _fail(str(exc)) from exc
    if not r.fitted:
        out.print(
            f"台帐中带服务中模型建议的已分办建议只有 {r.n} 件，少于 {r.needed} 件，沿用原有校准和阈值。"
        )
        return
    out.print(
        f"依据 {r.n} 件已分办建议：校准误差 ECE {r.ece_before:.3f} → {r.ece_after:.3f}（两折交叉估计）"
    )
    out.print(
        f"复核阈值：{r.review_confidence}；批量确认阈值：{r.bulk_confidence}（无值表示样本不足，沿用原值）"
    )
    if r.version:
        out.print(f"已登记校准后的版本 {r.version}（待审批）：router models promote {r.version}")


# -- registry -----------------------------------------------------------------------------
_STATES = {
    "serving": "[green]✔ 服务中[/]",
    "pending": "[cyan]待审批[/]",
    "held": "[red]暂扣[/]",
    "served": "曾服务",
    "registered": "已登记",
}


def _local_time(value: object, timezone: str) -> str:
    """An ISO time as the bureau reads it (ROUTER_TIMEZONE), minutes only."""
    from datetime import datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        when = datetime.fromisoformat(str(value))
        if when.tzinfo is None:
            return when.strftime("%Y-%m-%d %H:%M")
        return when.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    except (ValueError, ZoneInfoNotFoundError):
        return str(value or "")


@models_app.command("list")
def models_list() -> None:
    """列出已登记的模型版本、待审批和暂扣的候选，以及启用链（谁、何时、为何启用）。"""
    from router.learn.registry import Registry

    settings = _settings()
    registry = Registry(settings.models_path)
    table = Table(title=f"模型注册表 {settings.models_path}")
    for col in ("版本", "状态", "训练时间", "样本数", "宏 F1", "仅标题宏 F1", "说明"):
        table.add_column(col, no_wrap=col in ("版本", "训练时间"), overflow="fold")
    for v in registry.versions():
        try:
            meta, m, st = registry.metadata(v), registry.metrics(v), registry.status(v)
        except Exception:  # noqa: BLE001 - a broken folder is listed, not fatal
            table.add_row(v, "?", "?", "?", "?", "?", "")
            continue
        note = "；".join(st["held_reasons"]) if st["state"] == "held" else ""
        table.add_row(
            v,
            _STATES.get(st["state"], st["state"]),
            _local_time(meta.get("created_at"), settings.timezone),
            str(meta.get("trained_on", {}).get("rows", "")),
            f"{m.get('full', {}).get('macro_f1', 0):.3f}",
            f"{m.get('title_only', {}).get('macro_f1', 0):.3f}",
            note,
        )
    out.print(table)
    out.print(f"✔ 服务中：{registry.current() or '（无）'}")
    for state, name in (("pending", "待审批"), ("held", "暂扣")):
        for v in registry.versions():
            try:
                st = registry.status(v)
            except Exception:  # noqa: BLE001 - listed above as broken
                continue
            if st["state"] == state:
                why = "；".join(st["held_reasons"]) if state == "held" else "各项检查通过"
                out.print(f"{name}的候选 {v}（对比 {st['serving_version']}）：{why}")
                out.print(f"  报告：{registry.root / v / 'report.md'}")
    chain = registry.chain()
    if chain:
        ctable = Table(title="启用链（回退沿此链逐步后退）")
        for col in ("步", "版本", "启用时间", "启用人", "原因", "强制"):
            ctable.add_column(col, no_wrap=col in ("版本", "启用时间"))
        for i, e in enumerate(chain, 1):
            ctable.add_row(
                str(i),
                str(e.get("version", "")),
                str(e.get("at", "")),
                str(e.get("by", "")),
                str(e.get("reason", "")),
                "是" if e.get("forced") else "",
            )
        out.print(ctable)


def _share(registry: Any, version: str, by: str, reason: str, kind: str) -> None:
    """With ROUTER_REGISTRY_IN_DATABASE, tell every host (they follow within seconds)."""
    from router.learn.shared_registry import publish

    if publish(_settings(), registry, version, by=by, reason=reason, kind=kind):
        out.print("已写入共享注册表（数据库），各服务器将在数秒内跟随。")


def _who(by: str | None) -> str:
    from router.learn.registry import default_actor

    name = (by or "").strip()
    return name or default_actor()


@models_app.command("promote")
def models_promote(
    version: str,
    by: Annotated[str | None, typer.Option("--by", help="启用人，默认为当前系统用户")] = None,
    reason: Annotated[str, typer.Option("--reason", help="启用理由，记入启用记录")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="启用被暂扣的候选（有检查未通过），记录为强制启用")
    ] = False,
) -> None:
    """启用指定版本（记录启用人、时间和理由）；被暂扣的候选须加 --force。"""
    from router.learn.registry import Registry, RegistryError

    registry = Registry(_settings().models_path)
    who = _who(by)
    try:
        st = registry.status(version)
        if st["state"] == "held" and not force:
            raise _fail(
                f"候选 {version} 被暂扣：{'；'.join(st['held_reasons'])}。请先阅读 models/{version}/report.md；"
                "确需启用请加 --force 并用 --reason 说明理由。"
            )
        forced = st["state"] == "held"
        text = reason or ("人工启用（暂扣的候选）" if forced else "人工启用")
        registry.promote(version, forced=forced, reason=text, by=who)
        _share(registry, version, who, text, "promote")
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"已启用模型 {version}（启用人：{who}）。")


@models_app.command("rollback")
def models_rollback(
    by: Annotated[str | None, typer.Option("--by", help="操作人，默认为当前系统用户")] = None,
) -> None:
    """沿启用链回退一步（连续两次即后退两步）。"""
    from router.learn.registry import Registry, RegistryError

    registry = Registry(_settings().models_path)
    try:
        version = registry.rollback(by=_who(by))
        _share(registry, version, _who(by), "回退", "rollback")
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"已回退到模型 {version}。")


@models_app.command("grow-eval")
def models_grow_eval(
    file: Annotated[Path, typer.Argument(help="已核定承办单位的台账文件（.xlsx/.xls/.csv）")],
) -> None:
    """把一份已核定的台账加入冻结评估集（只在明确要求时扩充；重复的文本不再加入）。"""
    from router.learn.retrain import RetrainError, file_examples, grow_eval

    settings = _settings()
    try:
        added = grow_eval(settings, file_examples(file))
    except RetrainError as exc:
        raise _fail(str(exc), EXIT_INPUT) from exc
    out.print(
        f"冻结评估集新增 {added} 条（来自 {file.name}）。此后的候选模型都在扩充后的集合上比较。"
    )


@models_app.command("diff")
def models_diff(
    a: Annotated[str, typer.Argument(help="原版本（通常为服务中的版本）")],
    b: Annotated[str, typer.Argument(help="新版本（通常为候选）")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """比较两个版本：冻结评估集、行为测试集和台帐近期建议上各有多少条改判（原判 → 新判）。"""
    from router.core.text import init as init_text
    from router.learn.registry import RegistryError
    from router.learn.retrain import diff_versions

    init_text()
    try:
        diff = diff_versions(_settings(), a, b)
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        sys.stdout.write(json.dumps(diff.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    out.print(f"{a} → {b}")
    _print_diff(diff)


def _print_diff(diff: Any) -> None:
    from router.learn.diff import SET_NAMES

    for s in diff.sets:
        table = Table(
            title=f"{SET_NAMES.get(s.name, s.name)}：{s.n} 条中改判 {s.moved} 条（{s.share:.1%}）"
        )
        for col in ("原判 → 新判", "条数", "例子", "来源"):
            table.add_column(col)
        for m in s.moves:
            drivers = "；".join(f"{d.origin} {d.count}" for d in m.drivers[:3])
            table.add_row(
                m.name,
                str(m.count),
                "；".join(m.examples),
                ("⚠ " if m.single_source else "") + drivers,
            )
        out.print(table)


# -- local jurisdiction -------------------------------------------------------------------
@local_app.command("list")
def jurisdiction_list() -> None:
    """列出各地分工不同的事项、候选承办方和本局的设定。"""
    from router.core.local import load_topics, read_state

    choices = read_state(_settings().local_jurisdiction_path).choices
    table = Table(title="本地职责设定")
    for col in ("事项", "名称", "候选承办方", "本局设定", "设定人", "设定时间"):
        table.add_column(col)
    for t in load_topics():
        c = choices.get(t.id)
        table.add_row(
            t.id,
            t.name,
            "、".join(t.candidates),
            c.handler if c else "未设定（提示人工复核）",
            c.by if c else "",
            c.at if c else "",
        )
    out.print(table)


def _set_local(topic: str, handler: str | None, by: str | None, reason: str) -> None:
    import getpass

    from router.core.local import LocalError, set_choice

    path = _settings().local_jurisdiction_path
    assert path is not None
    try:
        entry = set_choice(path, topic, handler, by=by or getpass.getuser(), reason=reason)
    except LocalError as exc:
        raise _fail(str(exc), EXIT_INPUT) from exc
    what = f"由 {handler} 承办" if handler else "取消本地设定，恢复提示人工复核"
    out.print(f"“{entry['name']}”已设为{what}（第 {entry['version']} 版，{entry['by']}）。")


@local_app.command("set")
def jurisdiction_set(
    topic: Annotated[str, typer.Argument(help="事项编号，见 router jurisdiction list")],
    handler: Annotated[str, typer.Argument(help="候选承办方之一")],
    by: Annotated[str | None, typer.Option("--by", help="设定人，默认为当前系统用户")] = None,
    reason: Annotated[str, typer.Option("--reason", help="设定依据，如文件号")] = "",
) -> None:
    """设定某一事项的本地承办方；此后的分办建议按此设定，并注明依据。"""
    _set_local(topic, handler, by, reason)


@local_app.command("clear")
def jurisdiction_clear(
    topic: Annotated[str, typer.Argument(help="事项编号")],
    by: Annotated[str | None, typer.Option("--by", help="设定人，默认为当前系统用户")] = None,
    reason: Annotated[str, typer.Option("--reason", help="取消的原因")] = "",
) -> None:
    """取消某一事项的本地设定。"""
    _set_local(topic, None, by, reason)


@local_app.command("history")
def jurisdiction_history() -> None:
    """本地职责设定的全部变更记录。"""
    from router.core.local import history

    path = _settings().local_jurisdiction_path
    assert path is not None
    table = Table(title="本地职责变更记录")
    for col in ("版本", "事项", "原设定", "新设定", "设定人", "时间", "依据"):
        table.add_column(col)
    for e in history(path):
        table.add_row(
            str(e["version"]),
            e["name"],
            e["previous"] or "未设定",
            e["handler"] or "未设定",
            e["by"],
            e["at"],
            e["reason"],
        )
    out.print(table)


# -- serve / db ---------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址，默认 127.0.0.1（仅本机）")] = None,
    port: Annotated[int | None, typer.Option(help="端口，默认 8000")] = None,
    workers: Annotated[int | None, typer.Option(help="工作进程数，默认 1")] = None,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev", help="本地开发模式：未设置 ROUTER_API_TOKEN 时写操作无需令牌，仅供本机试用"
        ),
    ] = False,
) -> None:
    """启动分办服务：网页 http://127.0.0.1:8000/ ，接口 /api/v1，文档 /docs。"""
    from router.api.app import ConfigError
    from router.api.server import StartupError, run
    from router.learn.registry import RegistryError

    try:
        run(_settings(), host, port, workers, dev, say=_say)
    except (ConfigError, RegistryError, StartupError) as exc:
        raise _fail(str(exc), EXIT_INPUT if isinstance(exc, ConfigError) else EXIT_FAILURE) from exc


@db_app.command("upgrade")
def db_upgrade() -> None:
    """把台账数据库结构升级到最新版本（服务启动时也会自动升级）。"""
    from sqlalchemy.engine import make_url

    from router.db import current_revision, make_engine, upgrade

    settings = _settings()
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        revision = current_revision(engine)
    finally:
        engine.dispose()
    where = make_url(settings.db_url).render_as_string(hide_password=True)
    out.print(f"台账数据库 {where} 已是最新结构（{revision}）。")


# -- accounts and the annual report (router.cli_cycle) -------------------------------------
def _add_cycle_commands() -> None:
    from router.cli_cycle import report, users_app

    app.add_typer(users_app, name="users")
    app.command("report")(report)


_add_cycle_commands()


if __name__ == "__main__":  # pragma: no cover
    app()
