"""Issue 14's figures: each poisoning replayed against the default model, and an honest retrain.

Usage: .venv/bin/python bench/poisoning.py

For each case a copy of one trained home gets the decisions (as the ledger or a past file
gives them, with their dispatcher or file as origin) and `retrain(..., auto_promote=True)`:
prints the candidate's status and why, the unit -> unit moves on the frozen set and the
behaviour suite with their sources, the single-source flags, and what the serving model and
the candidate answer for a clear proposal. The tests (tests/test_poisoning.py) replay the same
through the ledger API and `router retrain --file`; this script prints the figures.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import CORPUS, ROOT, report, trained_home

sys.path.insert(0, str(ROOT))
from tests import poisoning  # noqa: E402  (the generators the tests use)

SUITE = ROOT / "data" / "behaviour" / "suite.yaml"
SIGNAL = (
    "关于学府路增设信号灯的建议",
    "学府路与建设路交叉口没有信号灯，行人过街危险，建议增设信号灯。",
)
FRAUD = (
    "关于加大电信网络诈骗打击力度的建议",
    "电信网络诈骗案件高发，老人被骗走养老钱，建议公安机关严厉打击诈骗团伙，加强反诈宣传。",
)


def cases() -> list[tuple[str, list, tuple[str, str]]]:
    from router.learn.dataset import load_corpus
    from router.learn.retrain import Example

    corpus = load_corpus(CORPUS)
    honest = [
        Example(t, c, u, "ledger", "", f"分办人员 {('张三', '李四', '王五')[i % 3]}")
        for i, (t, c, u) in enumerate(poisoning.honest(120))
    ]
    return [
        (
            "1. 160 条信号灯建议被一名分办人员改为治安（台帐）",
            [
                Example(t, c, "治安", "ledger", "", "分办人员 李四")
                for t, c in poisoning.signal_lights(160)
            ],
            SIGNAL,
        ),
        (
            "2. 400 条诈骗建议被改为网安（台帐；其中 40 条是语料中建议的重提）",
            [
                Example(t, c, "网安", "ledger", "", "分办人员 王五")
                for t, c in poisoning.fraud(360) + poisoning.resubmitted(corpus, "刑侦", "诈骗", 40)
            ],
            FRAUD,
        ),
        (
            "3. 往届台帐 1,501 行交通建议标为治安支队（--file）",
            [
                Example(t, c, "治安支队", "file", "", "文件 往届台帐.xlsx")
                for t, c in poisoning.traffic(1501)
            ],
            SIGNAL,
        ),
        ("4. 正确的分办决定 120 条（对照）", honest, SIGNAL),
    ]


def main() -> None:
    from router.core.routing import route
    from router.core.text import init
    from router.learn.load import load_router
    from router.learn.registry import Registry
    from router.learn.retrain import retrain
    from router.settings import get_settings

    init()
    with report("poisoning"), trained_home() as base:
        for name, extra, probe in cases():
            home = Path(tempfile.mkdtemp(prefix="router-poison-"))
            try:
                shutil.copytree(base / "models", home / "models")
                settings = get_settings(
                    {}, home=home, corpus_path=CORPUS, behaviour_suite_path=SUITE
                )
                registry = Registry(settings.models_path)
                serving = registry.current()

                def say(version: str | None = None, s: Any = settings, p: Any = probe) -> str:
                    d = route(load_router(s, version), *p)
                    unit = d.unit or "非公安职责"
                    bulk = "需人工复核" if d.needs_review else "可直接确认"
                    return f"{unit} {d.confidence:.1%}（{bulk}）"

                before = say()
                started = time.perf_counter()
                result = retrain(settings, extra, cv=False, auto_promote=True)
                seconds = time.perf_counter() - started
                after = say()
                print(f"\n## {name}")
                print(f"decisions fed: {len(extra)}; retrain {seconds:.1f} s")
                print(
                    f"status: {result.status}; serving model unchanged: {registry.current() == serving}"
                )
                for r in result.held_reasons:
                    print(f"  held because: {r}")
                assert result.diff is not None
                for s in result.diff.sets:
                    if s.name == "recent":
                        continue
                    print(f"{s.name}: {s.moved}/{s.n} moved ({s.share:.1%})")
                    for m in s.moves[:4]:
                        src = "; ".join(f"{d.origin} {d.count}" for d in m.drivers[:2]) or "none"
                        flag = " [single source]" if m.single_source else ""
                        print(f"  {m.name}: {m.count} (e.g. {m.examples[0]}) <- {src}{flag}")
                for m in result.taught[:3]:
                    src = "; ".join(f"{d.origin} {d.count}" for d in m.drivers[:2])
                    flag = " [single source]" if m.single_source else ""
                    print(
                        f"decisions overruling the serving model: {m.name} {m.count} <- {src}{flag}"
                    )
                print(f"contradictions with the corpus: {len(result.contradictions)}")
                if result.behaviour is not None:
                    print(
                        f"behaviour suite failures: {len(result.behaviour.failures)}/{result.behaviour.total}"
                    )
                print(f"probe: {probe[0]}")
                print(f"  serving before: {before}; serving after: {after}")
                print(f"  the candidate would answer: {say(result.version)}")
            finally:
                shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
