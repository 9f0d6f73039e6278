"""The model's life after training: `router retrain`, `router calibrate` and `router models …`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from router.cli.output import EXIT_INPUT, fail, out, say
from router.settings import get_settings

models_app = typer.Typer(help="模型注册表：列出、比较、启用、回退。", no_args_is_help=True)

EXIT_HELD = 3


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

    settings = get_settings()
    extra: list[Example] = []
    try:
        if not no_ledger:
            extra += ledger_examples(settings)
        for path in files or []:
            extra += file_examples(path)
        result = do_retrain(
            settings, extra, force=force, auto_promote=auto_promote, cv=not no_cv, say=say
        )
    except RetrainError as exc:
        raise fail(str(exc)) from exc
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


def calibrate(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="只计算并报告，不登记校准后的版本")
    ] = False,
) -> None:
    """用台帐中带模型建议的分办决定重新校准置信度和复核、批量确认阈值；数量不足时沿用原值。"""
    from router.learn.calibration import CalibrationError
    from router.learn.calibration import calibrate as do_calibrate

    settings = get_settings()
    try:
        r = do_calibrate(settings, register=not dry_run)
    except CalibrationError as exc:
        raise fail(str(exc)) from exc
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

    settings = get_settings()
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

    if publish(get_settings(), registry, version, by=by, reason=reason, kind=kind):
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

    registry = Registry(get_settings().models_path)
    who = _who(by)
    try:
        st = registry.status(version)
        if st["state"] == "held" and not force:
            raise fail(
                f"候选 {version} 被暂扣：{'；'.join(st['held_reasons'])}。请先阅读 models/{version}/report.md；"
                "确需启用请加 --force 并用 --reason 说明理由。"
            )
        forced = st["state"] == "held"
        text = reason or ("人工启用（暂扣的候选）" if forced else "人工启用")
        registry.promote(version, forced=forced, reason=text, by=who)
        _share(registry, version, who, text, "promote")
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    out.print(f"已启用模型 {version}（启用人：{who}）。")


@models_app.command("rollback")
def models_rollback(
    by: Annotated[str | None, typer.Option("--by", help="操作人，默认为当前系统用户")] = None,
) -> None:
    """沿启用链回退一步（连续两次即后退两步）。"""
    from router.learn.registry import Registry, RegistryError

    registry = Registry(get_settings().models_path)
    try:
        version = registry.rollback(by=_who(by))
        _share(registry, version, _who(by), "回退", "rollback")
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    out.print(f"已回退到模型 {version}。")


@models_app.command("grow-eval")
def models_grow_eval(
    file: Annotated[Path, typer.Argument(help="已核定承办单位的台账文件（.xlsx/.xls/.csv）")],
) -> None:
    """把一份已核定的台账加入冻结评估集（只在明确要求时扩充；重复的文本不再加入）。"""
    from router.learn.retrain import RetrainError, file_examples, grow_eval

    settings = get_settings()
    try:
        added = grow_eval(settings, file_examples(file))
    except RetrainError as exc:
        raise fail(str(exc), EXIT_INPUT) from exc
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
        diff = diff_versions(get_settings(), a, b)
    except RegistryError as exc:
        raise fail(str(exc)) from exc
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
