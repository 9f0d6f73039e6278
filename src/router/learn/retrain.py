"""Retraining from the dispatchers' decisions: what changes is shown, gated, and approved.

A candidate is trained on the shipped corpus, the ledger's confirmed or corrected decisions and
any labelled files of past sessions, then judged against the serving model:

1. the no-regression gate on the frozen evaluation set (macro-F1 and every unit's recall);
2. the behaviour suite (``data/behaviour/suite.yaml``): every case must keep its answer;
3. the shift limits: how much of the frozen set moves, and how far any one unit -> unit move
   goes; the report names the decisions (dispatchers, files) that taught each move.

A candidate that fails any of them is *held* for a person. One that passes is registered and
waits for a person (``router models promote``), unless the run asked to promote it
(``auto_promote``). ``force`` promotes whatever the checks say, and is recorded. A file lock
keeps retrains one at a time, and the registry's atomic writes mean a crash leaves the serving
model as it was.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from router.core.routing import Router, Thresholds
from router.core.rules import RuleBook, load_rules
from router.core.text import prepare
from router.labels import LabelSet, load_labels
from router.learn.behaviour import BehaviourResult, Case, SuiteError, load_suite, run_suite
from router.learn.dataset import load_corpus, split_corpus
from router.learn.diff import (
    SET_NAMES,
    Contradiction,
    ModelDiff,
    Move,
    answers,
    attach_drivers,
    contradictions,
    diff_models,
    shift_problems,
    single_source,
    taught_moves,
    taught_table,
)
from router.learn.evaluate import write_plots
from router.learn.fit import TextModel
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
    source: str  # corpus, ledger or file: decides which wins a duplicate
    departments: str = ""
    origin: str = ""  # who or what gave the label: "分办人员 张三", "文件 往届台帐.xlsx"

    @property
    def where(self) -> str:
        return self.origin or _SOURCE_NAMES.get(self.source, self.source)


_SOURCE_NAMES = {"corpus": "随附语料", "ledger": "台账中的分办决定", "file": "往届台账文件"}


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
    status: str = "pending"  # promoted, pending (waits for a person) or held (a check failed)
    held_reasons: list[str] = field(default_factory=list)
    diff: ModelDiff | None = None
    behaviour: BehaviourResult | None = None
    taught: list[Move] = field(default_factory=list)
    contradictions: list[Contradiction] = field(default_factory=list)


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
                Example(
                    e.title,
                    e.content,
                    e.label,
                    "ledger",
                    ";".join(e.departments),
                    f"分办人员 {e.decided_by or '未署名'}",
                )
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
        Example(str(t or ""), str(c or ""), str(u or "").strip(), "file", "", f"文件 {path.name}")
        for t, c, u in zip(titles, contents, df[cols.unit], strict=True)
    ]


def recent_items(settings: Settings) -> list[tuple[str, str]]:
    """The ledger's most recent proposals (none when the ledger cannot be read)."""
    from sqlalchemy.exc import SQLAlchemyError

    from router.db import make_engine, make_sessionmaker
    from router.ledger import recent_texts

    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine)() as session:
            return recent_texts(session, settings.retrain_recent_items)
    except SQLAlchemyError:
        return []
    finally:
        engine.dispose()


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
        best[text] = (
            rank,
            Example(ex.title, ex.content, label, ex.source, ex.departments, ex.origin),
        )
    for _, ex in best.values():
        counts[ex.source]["used"] += 1
    columns = ["text", "label", "source", "departments", "title", "content", "origin"]
    df = pd.DataFrame(
        [
            {
                "text": t,
                "label": ex.label,
                "source": ex.source,
                "departments": ex.departments,
                "title": ex.title,
                "content": ex.content,
                "origin": ex.where,
            }
            for t, (_, ex) in best.items()
        ],
        columns=columns,
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
    auto_promote: bool = False,
    cv: bool = True,
    say: Say = lambda _m: None,
) -> RetrainResult:
    """Train a candidate on everything known, judge it, and register it.

    It is promoted only when ``auto_promote`` is set and every check passes, or when
    ``force`` is set (recorded); otherwise it waits for a person (``router models promote``).
    """
    registry = Registry(settings.models_path)
    settings.models_path.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.models_path / ".retrain.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise RetrainError("另一个重训练正在进行，请稍后再试。") from exc
    try:
        return _retrain(
            settings, registry, extra, force=force, auto_promote=auto_promote, cv=cv, say=say
        )
    finally:
        lock.release()


def _router(
    model: TextModel, version: str, rules: RuleBook, labels: LabelSet, s: Settings
) -> Router:
    return Router(model.scorer, version, rules, labels, Thresholds.from_settings(s))


def _suite(settings: Settings, labels: LabelSet) -> tuple[list[Case], str | None]:
    try:
        return load_suite(settings.behaviour_suite, labels.outside), None
    except SuiteError as exc:
        return [], f"无法运行行为测试集：{exc}"


def _retrain(
    settings: Settings,
    registry: Registry,
    extra: Sequence[Example],
    *,
    force: bool,
    auto_promote: bool,
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
    corpus = corpus_examples(settings, labels)
    data, counts = assemble([*corpus, *extra], set(eval_df["text"]), labels)
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

    # What changes, what breaks, and who taught it.
    serving_router = _router(serving.model, serving_version, rules, labels, settings)
    cand_router = _router(candidate, "candidate", rules, labels, settings)
    cases, suite_problem = _suite(settings, labels)
    behaviour = run_suite(cand_router, cases) if cases else None
    serving_behaviour = run_suite(serving_router, cases) if cases else None
    frozen_items = list(zip(eval_df["title"], eval_df["content"], strict=True))
    suite_items = list(dict.fromkeys((c.title, c.content) for c in cases))
    diff = diff_models(
        serving_router,
        cand_router,
        {"frozen": frozen_items, "behaviour": suite_items, "recent": recent_items(settings)},
    )
    new = data[data["source"] != "corpus"]
    new_items = list(zip(new["title"], new["content"], strict=True))
    taught = taught_moves(
        new_items, list(new["label"]), list(new["origin"]), answers(serving_router, new_items)
    )
    share, minimum = settings.retrain_single_source_share, settings.retrain_single_source_min
    for set_diff in diff.sets:
        attach_drivers(set_diff, taught, share, minimum)
    taught_moves_table = taught_table(taught)
    for move in taught_moves_table:
        move.single_source = single_source(move.drivers, share, minimum)
    extra_rows = [e for e in extra if e.source != "corpus"]
    contra = contradictions(
        [(e.title, e.content) for e in extra_rows],
        [_canonical(labels, e.label) for e in extra_rows],
        [e.where for e in extra_rows],
        [(e.title, e.content) for e in corpus],
        [e.label for e in corpus],
        settings.retrain_near_duplicate,
    )

    held: list[str] = list(verdict.reasons)
    if suite_problem:
        held.append(suite_problem)
    if behaviour is not None and not behaviour.passed:
        held.append(f"行为测试集有 {len(behaviour.failures)} 条未通过（共 {behaviour.total} 条）")
    frozen = diff.get("frozen")
    assert frozen is not None
    held += shift_problems(frozen, settings.retrain_max_shift_share, settings.retrain_max_move)
    forced = force and bool(held)
    promote = force or (auto_promote and not held)
    status = "promoted" if promote else ("held" if held else "pending")

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
            "forced": forced,
            "eval_rows": len(eval_df),
            "status": "held" if held else "pending",  # what the checks said, before any promotion
            "held_reasons": held,
            "auto_promote": auto_promote,
            "behaviour": behaviour.to_dict() if behaviour is not None else None,
            "frozen_moved": frozen.moved,
            "frozen_share": frozen.share,
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
    report = RetrainReport(
        serving_version=serving_version,
        status=status,
        forced=forced,
        held=held,
        counts=counts,
        serving=serv_metrics,
        cand=cand_metrics,
        verdict=verdict,
        wrong=wrong,
        diff=diff,
        behaviour=behaviour,
        serving_behaviour=serving_behaviour,
        taught=taught_moves_table,
        contradictions=contra,
        settings=settings,
    )

    def extras(folder: Path) -> None:
        write_plots(folder, list(eval_df["label"]), cand_proba, candidate.classes)
        diff_json = {**diff.to_dict(), "taught": [asdict(m) for m in taught_moves_table]}
        (folder / "diff.json").write_text(
            json.dumps(diff_json, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (folder / "report.md").write_text(report.render(folder.name), encoding="utf-8")

    version = registry.save(candidate, metadata, cand_metrics, extras, tag="rt")
    # the report names the version: written in the temporary folder, fix its heading now
    path = registry.root / version / "report.md"
    path.write_text(report.render(version), encoding="utf-8")
    if promote:
        reason = "重训练（强制启用）" if forced else "重训练：各项检查通过，自动启用"
        registry.promote(version, forced=forced, reason=reason)
        from router.learn.registry import default_actor
        from router.learn.shared_registry import publish

        publish(settings, registry, version, by=default_actor(), reason=reason, kind="promote")
    return RetrainResult(
        version,
        promote,
        forced,
        verdict,
        counts,
        path,
        seconds,
        status,
        held,
        diff,
        behaviour,
        taught_moves_table,
        contra,
    )


def _canonical(labels: LabelSet, label: str) -> str:
    try:
        return labels.canonical(label)
    except ValueError:
        return label


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


def _cell(text: str) -> str:
    return text.replace("|", "｜").replace("\n", " ")


def _drivers_text(move: Move) -> str:
    if not move.drivers:
        return "无直接对应的决定（训练中的连带变化）"
    total = sum(d.count for d in move.drivers)
    text = "；".join(f"{_cell(d.origin)} {d.count} 条" for d in move.drivers[:4])
    if len(move.drivers) > 4:
        text += f"；另有 {len(move.drivers) - 4} 个来源"
    text = f"{total} 条决定：{text}"
    return ("⚠ 主要来自单一来源。" + text) if move.single_source else text


def move_table(moves: Sequence[Move], with_drivers: bool = True) -> list[str]:
    if not moves:
        return ["没有改判。"]
    head = "| 原判 → 新判 | 条数 | 例子 |" + (
        " 来源（教会这一改判的决定） |" if with_drivers else ""
    )
    sep = "|---|---|---|" + ("---|" if with_drivers else "")
    rows = [
        f"| {m.name} | {m.count} | {_cell('；'.join(m.examples))} |"
        + (f" {_drivers_text(m)} |" if with_drivers else "")
        for m in moves
    ]
    return [head, sep, *rows]


_STATUS_TEXT = {
    "promoted": "已启用",
    "pending": "待审批：各项检查通过，等待管理员启用",
    "held": "暂扣：有检查未通过，需要人工审核",
}


@dataclass
class RetrainReport:
    """Everything report.md says; the plain-language summary comes first."""

    serving_version: str
    status: str
    forced: bool
    held: list[str]
    counts: dict[str, dict[str, int]]
    serving: dict[str, Any]
    cand: dict[str, Any]
    verdict: GateVerdict
    wrong: list[dict[str, Any]]
    diff: ModelDiff
    behaviour: BehaviourResult | None
    serving_behaviour: BehaviourResult | None
    taught: list[Move]
    contradictions: list[Contradiction]
    settings: Settings

    def summary(self, version: str) -> list[str]:
        frozen = self.diff.get("frozen")
        assert frozen is not None
        status = _STATUS_TEXT[self.status]
        if self.forced:
            status = "已强制启用（--force，已记录），尽管有检查未通过"
        lines = [
            f"# 重训练报告：候选模型 `{version}`",
            "",
            "## 结论",
            "",
            f"- 状态：**{status}**",
        ]
        if self.held:
            lines.append("- 未通过的检查：")
            lines += [f"  - {r}" for r in self.held]
        lines.append(
            f"- 与服务中的模型 `{self.serving_version}` 相比，冻结评估集 {frozen.n} 条中有 "
            f"{frozen.moved} 条改判（{frozen.share:.1%}；上限 {self.settings.retrain_max_shift_share:.1%}，"
            f"单项上限 {self.settings.retrain_max_move} 条）。"
        )
        for m in frozen.moves[:3]:
            lines.append(
                f"  - {m.name}：{m.count} 条，如“{_cell(m.examples[0])}”。来源：{_drivers_text(m)}"
            )
        if self.behaviour is not None:
            if self.behaviour.passed:
                lines.append(f"- 行为测试集 {self.behaviour.total} 条全部通过。")
            else:
                lines.append(
                    f"- 行为测试集 {self.behaviour.total} 条中 {len(self.behaviour.failures)} 条未通过（见下文）。"
                )
        flagged = [m for m in self.taught if m.single_source]
        if self.taught:
            lines.append(
                f"- 训练数据中有 {sum(m.count for m in self.taught)} 条决定与服务中模型的判断不同"
                + (f"，其中 {len(flagged)} 类改判主要来自单一来源：" if flagged else "。")
            )
            for m in flagged[:5]:
                lines.append(f"  - ⚠ {m.name} {m.count} 条：{_drivers_text(m)}")
        if self.contradictions:
            origins = Counter(c.origin for c in self.contradictions).most_common(3)
            lines.append(
                f"- {len(self.contradictions)} 条决定与语料中几乎相同文本的标注相矛盾（"
                + "；".join(f"{o} {n} 条" for o, n in origins)
                + "）。"
            )
        used = "、".join(
            f"{_SOURCE_NAMES.get(k, k)} {v.get('used', 0)} 条"
            for k, v in self.counts.items()
            if v.get("used")
        )
        lines.append(f"- 训练所用：{used or '无'}。")
        if self.status == "promoted":
            lines.append("- 该模型已在服务；如需撤回：`router models rollback`。")
        else:
            lines.append(
                f"- 下一步：核对下文后，如确认无误，运行 `router models promote {version} --by 姓名`"
                + ("（暂扣的候选须加 --force 并说明理由）" if self.status == "held" else "")
                + "；不启用则无需操作，服务中的模型不变。"
            )
        return lines

    def render(self, version: str) -> str:
        lines = self.summary(version)
        lines += ["", "## 改判一览（服务中模型 → 候选模型）", ""]
        for s in self.diff.sets:
            lines += [
                f"### {SET_NAMES.get(s.name, s.name)}（{s.n} 条，改判 {s.moved} 条，{s.share:.1%}）",
                "",
                *move_table(s.moves),
                "",
            ]
        lines += [
            "## 训练数据中推翻服务中模型判断的决定",
            "",
            "服务中模型判为 A、决定却为 B 的训练样本（按来源计数）：它们教会候选模型 A → B。",
            "",
            *move_table(self.taught),
            "",
            "## 与语料标注相矛盾的决定",
            "",
        ]
        if self.contradictions:
            lines += [
                f"与语料中几乎相同的文本（字符 2–3 元组余弦相似度 ≥ {self.settings.retrain_near_duplicate}）标注不同：",
                "",
                "| 标题 | 决定为 | 来源 | 语料中的近似文本 | 语料标注 | 相似度 |",
                "|---|---|---|---|---|---|",
                *[
                    f"| {_cell(c.title)} | {c.label} | {_cell(c.origin)} | {_cell(c.corpus_title)} | {c.corpus_label} | {c.similarity:.2f} |"
                    for c in self.contradictions[:30]
                ],
            ]
            if len(self.contradictions) > 30:
                lines.append(f"\n……共 {len(self.contradictions)} 条，只列出前 30 条。")
        else:
            lines.append("没有。")
        lines += ["", "## 行为测试集", ""]
        if self.behaviour is None:
            lines.append("未能运行（见结论）。")
        else:
            kinds = "，".join(f"{k} {n} 条" for k, n in self.behaviour.per_kind.items())
            lines.append(
                f"共 {self.behaviour.total} 条（{kinds}）；候选模型未通过 {len(self.behaviour.failures)} 条。"
            )
            serving_failed = (
                {f.case for f in self.serving_behaviour.failures}
                if self.serving_behaviour is not None
                else set()
            )
            for f in self.behaviour.failures[:40]:
                also = "（服务中模型也未通过）" if f.case in serving_failed else ""
                lines.append(f"- {f.describe()}{also}")
        lines += self._figures()
        return "\n".join(lines) + "\n"

    def _figures(self) -> list[str]:
        serving, cand, verdict = self.serving, self.cand, self.verdict
        gate_text = "通过" if verdict.passed else "未通过：" + "；".join(verdict.reasons)
        lines = [
            "",
            "## 数据来源",
            "",
            "| 来源 | 收集 | 采用 | 重复去除 | 属评估集 | 标签无法识别 |",
            "|---|---|---|---|---|---|",
            *[
                f"| {_SOURCE_NAMES.get(k, k)} | {v['gathered']} | {v['used']} | {v['duplicates']} | {v['in_eval_set']} | {v['unknown_label']} |"
                for k, v in self.counts.items()
            ],
            "",
            "## 冻结评估集上的对比",
            "",
            f"不退步门槛：{gate_text}",
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
                f"| {_cell(w['title'] or w['content'])} | {w['label']} | {w['predicted']} | {w['confidence']:.2f} |"
                for w in self.wrong
            ],
        ]
        return lines


# -- comparing any two versions -----------------------------------------------------------
def stored_diff(settings: Settings, version: str) -> dict[str, Any] | None:
    """The change table a retrain wrote for its candidate (with the sources), if any."""
    registry = Registry(settings.models_path)
    path = registry.root / version / "diff.json"
    try:
        registry.metadata(version)  # checks the name stays inside the registry
    except RegistryError:
        return None
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def diff_versions(settings: Settings, a: str, b: str) -> ModelDiff:
    """Route the frozen set, the behaviour suite and the ledger's recent proposals with two
    registered versions and count the moves. When ``b`` is a retrain candidate of ``a``, the
    sources its retrain found are attached to the moves."""
    registry = Registry(settings.models_path)
    labels, rules = load_labels(), load_rules()
    routers = []
    for version in (a, b):
        loaded = registry.load(version)
        routers.append(_router(loaded.model, version, rules, labels, settings))
    eval_df = frozen_eval(settings, labels)
    cases, _ = _suite(settings, labels)
    diff = diff_models(
        routers[0],
        routers[1],
        {
            "frozen": list(zip(eval_df["title"], eval_df["content"], strict=True)),
            "behaviour": list(dict.fromkeys((c.title, c.content) for c in cases)),
            "recent": recent_items(settings),
        },
    )
    stored = stored_diff(settings, b)
    if stored is not None and stored.get("a") == a:
        known = ModelDiff.from_dict(stored)
        for s in diff.sets:
            before = known.get(s.name)
            if before is None:
                continue
            found = {(m.source, m.target): m for m in before.moves}
            for m in s.moves:
                if (m.source, m.target) in found:
                    m.drivers = found[(m.source, m.target)].drivers
                    m.single_source = found[(m.source, m.target)].single_source
    return diff
