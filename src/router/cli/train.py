"""`router train` and `router evaluate`: fit a model on the corpus, and its figures."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from router.cli.output import EXIT_INPUT, fail, out, say
from router.settings import Settings, get_settings


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

    settings = get_settings()
    if classifier not in ("svm", "logreg"):
        raise fail("classifier 只能是 svm 或 logreg。", EXIT_INPUT)
    config = replace(DEFAULT_CONFIG, classifier=classifier)  # type: ignore[arg-type]
    try:
        result = do_train(settings, config, promote=not no_promote, cv=not no_cv, say=say)
    except CorpusError as exc:
        raise fail(str(exc), EXIT_INPUT) from exc
    _print_metrics(result.version, result.metrics)
    out.print(f"模型 {result.version} 已登记{'' if no_promote else '并启用'}。")


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

    settings = get_settings()
    if compare:
        from router.learn.train import compare_configs

        compare_configs(settings, say=out.print)
        return
    registry = Registry(settings.models_path)
    try:
        version = version or ensure_model(settings, say)
        metrics = registry.metrics(version)
        registry.load(version)
    except RegistryError as exc:
        raise fail(str(exc)) from exc
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
