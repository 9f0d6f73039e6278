"""Retraining from the dispatchers' decisions, behind a no-regression gate.

A candidate is trained on the shipped corpus, the ledger's confirmed or corrected decisions and
any labelled files of past sessions, then compared with the serving model on the frozen
evaluation set. It is promoted only if macro-F1 and every unit's recall hold within their
margins, unless someone forces it, which is recorded. A file lock keeps retrains one at a time,
and the registry's atomic writes mean a crash leaves the serving model as it was.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from router.core.rules import load_rules
from router.core.text import prepare
from router.labels import LabelSet, load_labels
from router.learn.dataset import load_corpus, split_corpus
from router.learn.evaluate import write_plots
from router.learn.registry import Registry, RegistryError
from router.learn.train import DEFAULT_CONFIG, cross_validate, evaluate_model, fit_frame
from router.settings import Settings

Say = Callable[[str], None]
EVAL_FILE = "frozen_eval.csv"
EVAL_COLUMNS = ["id", "title", "content", "label", "jurisdiction", "departments"]


class RetrainError(RuntimeError):
    """Retraining cannot run; the message says why (Chinese)."""


@dataclass(frozen=True)
class Example:
    title: str
    content: str
    label: str
    source: str
    departments: str = ""


@dataclass
class GateVerdict:
    passed: bool
    macro_f1: tuple[float, float]
    recall: dict[str, tuple[float, float]]
    reasons: list[str] = field(default_factory=list)


@dataclass
class RetrainResult:
    version: str
    promoted: bool
    forced: bool
    verdict: GateVerdict
    counts: dict[str, dict[str, int]]
    report: Path
    seconds: float


# -- data ---------------------------------------------------------------------------------
def corpus_examples(settings: Settings, labels: LabelSet) -> list[Example]:
    df = load_corpus(settings.corpus, labels)
    return [
        Example(str(t), str(c), str(lab), "corpus", str(d))
        for t, c, lab, d in zip(
            df["title"], df["content"], df["label"], df["departments"], strict=True
        )
    ]


def ledger_examples(settings: Settings) -> list[Example]:
    """Confirmed or corrected decisions from the ledger (referrals out count as outside)."""
    from router.db import make_engine, make_sessionmaker
    from router.ledger import decided_examples

    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine)() as session:
            return [
                Example(e.title, e.content, e.label, "ledger", ";".join(e.departments))
                for e in decided_examples(session)
            ]
    finally:
        engine.dispose()


def file_examples(path: Path) -> list[Example]:
    """Labelled rows of a past session's ledger, read with the batch column rules."""
    from router.sheets.columns import find_columns
    from router.sheets.read import TableError, read_table

    try:
        table = read_table(path)
        cols = find_columns(table)
    except (TableError, ValueError) as exc:
        raise RetrainError(f"无法读取 {path.name}：{exc}") from exc
    if cols.unit is None:
        raise RetrainError(f"{path.name} 中没有“承办单位”列，无法作为训练数据。")
    df = table.frame
    titles = df[cols.title] if cols.title else [""] * len(df)
    contents = df[cols.content] if cols.content else [""] * len(df)
    return [
        Example(str(t or ""), str(c or ""), str(u or "").strip(), "file")
        for t, c, u in zip(titles, contents, df[cols.unit], strict=True)
    ]


def eval_path(settings: Settings) -> Path:
    return settings.models_path / "eval" / EVAL_FILE


def frozen_eval(settings: Settings, labels: LabelSet) -> pd.DataFrame:
    """The evaluation set every candidate is judged on; made once from the corpus split."""
    path = eval_path(settings)
    if not path.is_file():
        corpus = load_corpus(settings.corpus, labels)
        _, test = split_corpus(corpus, settings.split_seed, settings.test_size)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        test[EVAL_COLUMNS].to_csv(tmp, index=False, encoding="utf-8-sig")
        tmp.replace(path)
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    df["label"] = [labels.canonical(v) for v in df["label"]]
    df["text"] = [prepare(t, c) for t, c in zip(df["title"], df["content"], strict=True)]
    return df


def grow_eval(settings: Settings, examples: Sequence[Example]) -> int:
    """Add examples to the frozen evaluation set: an explicit decision, never automatic."""
    labels = load_labels()
    current = frozen_eval(settings, labels)
    seen = set(current["text"])
    rows = []
    for i, ex in enumerate(examples):
        text = prepare(ex.title, ex.content)
        if text and text not in seen:
            seen.add(text)
            rows.append(
                {
                    "id": f"E{len(current) + i + 1:05d}",
                    "title": ex.title,
                    "content": ex.content,
                    "label": labels.canonical(ex.label),
                    "jurisdiction": "",
                    "departments": ex.departments,
                }
            )
    if rows:
        merged = pd.concat([current[EVAL_COLUMNS], pd.DataFrame(rows)], ignore_index=True)
        tmp = eval_path(settings).with_suffix(".tmp")
        merged.to_csv(tmp, index=False, encoding="utf-8-sig")
        tmp.replace(eval_path(settings))
    return len(rows)


_PRECEDENCE = {"ledger": 0, "file": 1, "corpus": 2}


def assemble(
    examples: Iterable[Example], eval_texts: set[str], labels: LabelSet
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Deduplicate by normalised text (a dispatcher's decision wins), drop eval-set texts."""
    counts: dict[str, dict[str, int]] = {}
    best: dict[str, tuple[int, Example]] = {}
    for ex in examples:
        c = counts.setdefault(
            ex.source,
            {"gathered": 0, "unknown_label": 0, "in_eval_set": 0, "duplicates": 0, "used": 0},
        )
        c["gathered"] += 1
        try:
            label = labels.canonical(ex.label)
        except ValueError:
            c["unknown_label"] += 1
            continue
        text = prepare(ex.title, ex.content)
        if not text:
            c["unknown_label"] += 1
            continue
        if text in eval_texts:
            c["in_eval_set"] += 1
            continue
        rank = _PRECEDENCE.get(ex.source, 1)
        prior = best.get(text)
        if prior is not None:
            loser = ex if prior[0] <= rank else prior[1]
            counts[loser.source]["duplicates"] += 1
            if prior[0] <= rank:
                continue
        best[text] = (rank, Example(ex.title, ex.content, label, ex.source, ex.departments))
    for _, ex in best.values():
        counts[ex.source]["used"] += 1
    df = pd.DataFrame(
        [
            {"text": t, "label": ex.label, "source": ex.source, "departments": ex.departments}
            for t, (_, ex) in best.items()
        ],
        columns=["text", "label", "source", "departments"],
    )
    return df, counts


# -- the gate -----------------------------------------------------------------------------
def gate(
    serving: dict[str, Any], candidate: dict[str, Any], f1_margin: float, recall_margin: float
) -> GateVerdict:
    """Pass only if macro-F1 and each unit's recall fall by no more than their margins."""
    s_f1, c_f1 = serving["full"]["macro_f1"], candidate["full"]["macro_f1"]
    verdict = GateVerdict(True, (s_f1, c_f1), {})
    if c_f1 < s_f1 - f1_margin:
        verdict.passed = False
        verdict.reasons.append(
            f"宏 F1 从 {s_f1:.3f} 降到 {c_f1:.3f}（下降 {s_f1 - c_f1:.3f}，允许 {f1_margin:.3f}）"
        )
    for unit, s in serving["full"]["per_unit"].items():
        c = candidate["full"]["per_unit"].get(unit, {"recall": 0.0})
        verdict.recall[unit] = (s["recall"], c["recall"])
        if c["recall"] < s["recall"] - recall_margin:
            verdict.passed = False
            verdict.reasons.append(
                f"{unit} 召回率从 {s['recall']:.3f} 降到 {c['recall']:.3f}（下降 {s['recall'] - c['recall']:.3f}，允许 {recall_margin:.3f}）"
            )
    return verdict


# -- the run ------------------------------------------------------------------------------
def retrain(
    settings: Settings,
    extra: Sequence[Example] = (),
    *,
    force: bool = False,
    cv: bool = True,
    say: Say = lambda _m: None,
) -> RetrainResult:
    """Train a candidate on everything known, judge it, and promote it only if it holds up."""
    registry = Registry(settings.models_path)
    settings.models_path.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.models_path / ".retrain.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise RetrainError("另一个重训练正在进行，请稍后再试。") from exc
    try:
        return _retrain(settings, registry, extra, force=force, cv=cv, say=say)
    finally:
        lock.release()


def _retrain(
    settings: Settings,
    registry: Registry,
    extra: Sequence[Example],
    *,
    force: bool,
    cv: bool,
    say: Say,
) -> RetrainResult:
    for stale in registry.root.glob(".tmp-*"):  # left by a run that was killed mid-way
        shutil.rmtree(stale, ignore_errors=True)
    labels, rules = load_labels(), load_rules()
    serving_version = registry.current()
    if serving_version is None:
        raise RetrainError("还没有正在服务的模型，请先运行 router train。")
    try:
        serving = registry.load(serving_version)
    except RegistryError as exc:
        raise RetrainError(f"无法加载正在服务的模型：{exc}") from exc
    eval_df = frozen_eval(settings, labels)
    data, counts = assemble(
        [*corpus_examples(settings, labels), *extra], set(eval_df["text"]), labels
    )
    say(
        "训练数据来源："
        + "；".join(
            f"{k} 采用 {v['used']} 条（共 {v['gathered']}，重复 {v['duplicates']}，属评估集 {v['in_eval_set']}）"
            for k, v in counts.items()
        )
    )
    candidate, seconds = fit_frame(data, DEFAULT_CONFIG)
    say(
        f"候选模型训练用时 {seconds:.1f} 秒，正在与服务中的模型 {serving_version} 在冻结评估集（{len(eval_df)} 条）上比较……"
    )
    cand_metrics, cand_proba = evaluate_model(candidate, eval_df, rules, labels, settings)
    serv_metrics, _ = evaluate_model(
        serving.model, eval_df, rules, labels, settings, serving_version
    )
    if cv:
        cand_metrics["cross_validation"] = cross_validate(data, DEFAULT_CONFIG, settings.split_seed)
    cand_metrics["train_seconds"] = seconds
    verdict = gate(
        serv_metrics, cand_metrics, settings.retrain_macro_f1_margin, settings.retrain_recall_margin
    )
    promote = verdict.passed or force
    wrong = _wrong_examples(eval_df, cand_proba, candidate.classes)
    metadata = {
        "trained_on": {
            "rows": len(data),
            "sources": counts,
            "label_counts": {str(k): int(v) for k, v in data["label"].value_counts().items()},
        },
        "retrain": {
            "serving_version": serving_version,
            "gate": asdict(verdict),
            "forced": force and not verdict.passed,
            "eval_rows": len(eval_df),
        },
        "labels_version": labels.version,
        "rules_version": rules.version,
        "train_seconds": round(seconds, 3),
    }
    cand_metrics["gate"] = asdict(verdict)
    cand_metrics["serving"] = {
        "version": serving_version,
        "full": serv_metrics["full"],
        "title_only": serv_metrics["title_only"],
    }

    def extras(folder: Path) -> None:
        write_plots(folder, list(eval_df["label"]), cand_proba, candidate.classes)
        (folder / "report.md").write_text(
            _report(serving_version, counts, serv_metrics, cand_metrics, verdict, force, wrong),
            encoding="utf-8",
        )

    version = registry.save(candidate, metadata, cand_metrics, extras, tag="rt")
    if promote:
        forced = force and not verdict.passed
        registry.promote(
            version, forced=forced, reason="retrain (forced)" if forced else "retrain: gate passed"
        )
    return RetrainResult(
        version,
        promote,
        force and not verdict.passed,
        verdict,
        counts,
        registry.root / version / "report.md",
        seconds,
    )


def _wrong_examples(
    eval_df: pd.DataFrame, proba: Any, classes: Sequence[str], k: int = 20
) -> list[dict[str, Any]]:
    pred = [classes[i] for i in proba.argmax(axis=1)]
    rows = []
    for i, (p, t) in enumerate(zip(pred, eval_df["label"], strict=True)):
        if p != t:
            rows.append(
                {
                    "title": eval_df["title"].iloc[i],
                    "content": eval_df["content"].iloc[i][:80],
                    "label": t,
                    "predicted": p,
                    "confidence": float(proba[i].max()),
                }
            )
    return sorted(rows, key=lambda r: -r["confidence"])[:k]


_SOURCE_NAMES = {"corpus": "随附语料", "ledger": "台账中的分办决定", "file": "往届台账文件"}


def _source(name: str) -> str:
    return _SOURCE_NAMES.get(name, name)


def _plain_summary(
    counts: dict[str, dict[str, int]],
    serving: dict[str, Any],
    cand: dict[str, Any],
    verdict: GateVerdict,
    force: bool,
) -> list[str]:
    """The report's first lines, for the office rather than for a statistician."""
    used = sum(v.get("used", 0) for v in counts.values())
    sources = "、".join(
        f"{_source(k)} {v.get('used', 0)} 条" for k, v in counts.items() if v.get("used")
    )
    n_eval = serving["full"].get("n", 0)
    before, after = serving["full"]["macro_f1"], cand["full"]["macro_f1"]
    if verdict.passed:
        outcome = "新模型没有比原模型差，**已经启用**，服务会在几秒内换用它。"
    elif force:
        outcome = "新模型有单位变差，但按要求（--force）**仍然启用了**；这一点已记入模型记录。"
    else:
        outcome = "新模型有单位变差，**没有启用**，系统继续使用原模型，分办不受影响。"
    worse = [
        f"{unit}（{s:.0%} → {c:.0%}）" for unit, (s, c) in verdict.recall.items() if c < s - 0.005
    ]
    lines = [
        "## 简要结论",
        "",
        f"- 本次用 {used} 条已有结论的建议重新训练（{sources or '无'}）。",
        f"- 在 {n_eval} 条固定的检验建议上，分办准确程度（各单位的平均分，满分 1）"
        f"从 {before:.3f} 变为 {after:.3f}。",
        f"- 应分到各单位的建议被找出的比例：{'、'.join(worse) + ' 有所下降' if worse else '没有哪个单位下降'}。",
        f"- 结论：{outcome}",
        "",
        "术语：“宏 F1”即上面的分办准确程度（每个单位一个分数再取平均，小单位与大单位同等重要）；"
        "“召回率”是应分到某单位的建议中被分对的比例；“ECE”是模型说的把握与实际准确率相差多少，"
        "越小越可信；“交叉验证”是把训练数据轮流分成几份、每次留一份检验，看结果是否稳定。",
    ]
    return lines


def _report(
    serving_version: str,
    counts: dict[str, dict[str, int]],
    serving: dict[str, Any],
    cand: dict[str, Any],
    verdict: GateVerdict,
    force: bool,
    wrong: list[dict[str, Any]],
) -> str:
    status = (
        "通过，已启用"
        if verdict.passed
        else ("未通过，但被强制启用（--force）" if force else "未通过，继续使用原模型")
    )
    lines = [
        "# 重训练报告",
        "",
        *_plain_summary(counts, serving, cand, verdict, force),
        "",
        "## 详细数字",
        "",
        f"- 对比的服务中模型：`{serving_version}`",
        f"- 门槛判定：**{status}**",
        *[f"  - {r}" for r in verdict.reasons],
        "",
        "## 数据来源",
        "",
        "| 来源 | 收集 | 采用 | 重复去除 | 属评估集 | 标签无法识别 |",
        "|---|---|---|---|---|---|",
        *[
            f"| {_source(k)} | {v['gathered']} | {v['used']} | {v['duplicates']} | {v['in_eval_set']} | {v['unknown_label']} |"
            for k, v in counts.items()
        ],
        "",
        "## 冻结评估集上的对比",
        "",
        f"宏 F1：服务中 {serving['full']['macro_f1']:.3f} → 候选 {cand['full']['macro_f1']:.3f}；"
        f"仅标题 {serving['title_only']['macro_f1']:.3f} → {cand['title_only']['macro_f1']:.3f}；"
        f"ECE {serving['full']['ece']:.3f} → {cand['full']['ece']:.3f}；"
        f"95% 准确率覆盖率 {serving['full']['coverage_95']['coverage']:.1%} → {cand['full']['coverage_95']['coverage']:.1%}",
        "",
        "| 单位 | 召回（服务中） | 召回（候选） | 变化 | F1（服务中） | F1（候选） |",
        "|---|---|---|---|---|---|",
    ]
    for unit, s in serving["full"]["per_unit"].items():
        c = cand["full"]["per_unit"].get(unit, {"recall": 0.0, "f1": 0.0})
        lines.append(
            f"| {unit} | {s['recall']:.3f} | {c['recall']:.3f} | {c['recall'] - s['recall']:+.3f} | {s['f1']:.3f} | {c['f1']:.3f} |"
        )
    if "cross_validation" in cand:
        cvm = cand["cross_validation"]
        lines += [
            "",
            f"候选模型在其训练数据上的 {cvm['folds']} 折交叉验证宏 F1：{cvm['macro_f1_mean']:.3f} ± {cvm['macro_f1_std']:.3f}",
        ]
    lines += [
        "",
        "## 图",
        "",
        "![混淆矩阵](confusion_matrix.png)",
        "",
        "![可靠性图](reliability.png)",
        "",
        "## 候选模型判错的评估样本（按置信度从高到低）",
        "",
        "| 标题 | 正确 | 候选判为 | 置信度 |",
        "|---|---|---|---|",
        *[
            f"| {w['title'] or w['content']} | {w['label']} | {w['predicted']} | {w['confidence']:.2f} |"
            for w in wrong
        ],
        "",
    ]
    return "\n".join(lines)
