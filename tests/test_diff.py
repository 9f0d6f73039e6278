"""The change table, its sources, contradictions with the corpus and the shift limits."""

from __future__ import annotations

from router.learn.diff import (
    Driver,
    ModelDiff,
    attach_drivers,
    contradictions,
    diff_set,
    shift_problems,
    single_source,
    taught_moves,
    taught_table,
)

ITEMS = [("甲", "一"), ("乙", "二"), ("丙", "三"), ("", "只有正文的建议"), ("戊", "五")]


def test_moves_are_counted_with_example_titles() -> None:
    a = ["交通管理", "交通管理", "交通管理", "刑侦", "网安"]
    b = ["治安", "治安", "交通管理", "网安", "网安"]
    d = diff_set("frozen", ITEMS, a, b)
    assert (d.n, d.moved, round(d.share, 2)) == (5, 3, 0.6)
    assert [(m.name, m.count, m.examples) for m in d.moves] == [
        ("交通管理 → 治安", 2, ["甲", "乙"]),
        ("刑侦 → 网安", 1, ["只有正文的建议"]),
    ]
    again = ModelDiff.from_dict(ModelDiff("v1", "v2", [d]).to_dict())
    assert (
        again.get("frozen") is not None and again.to_dict() == ModelDiff("v1", "v2", [d]).to_dict()
    )


def test_drivers_name_the_sources_that_taught_a_move() -> None:
    items = [(f"信号灯{i}", "增设信号灯") for i in range(10)] + [("反诈", "宣传")]
    labels = ["治安"] * 10 + ["刑侦"]
    origins = ["分办人员 李四"] * 9 + ["分办人员 张三", "分办人员 张三"]
    served = ["交通管理"] * 10 + ["刑侦"]  # the last one agrees with the serving model
    taught = taught_moves(items, labels, origins, served)
    assert len(taught) == 10
    table = taught_table(taught)
    assert [(m.name, m.count) for m in table] == [("交通管理 → 治安", 10)]
    assert table[0].drivers == [Driver("分办人员 李四", 9), Driver("分办人员 张三", 1)]

    frozen = diff_set("frozen", ITEMS[:2], ["交通管理", "刑侦"], ["治安", "网安"])
    attach_drivers(frozen, taught, single_share=0.8, single_min=5)
    signal, other = frozen.moves
    assert signal.single_source and signal.drivers[0].origin == "分办人员 李四"
    assert other.drivers == [] and not other.single_source


def test_single_source_needs_a_share_and_a_minimum() -> None:
    assert single_source([Driver("甲", 8), Driver("乙", 2)], 0.8, 5)
    assert not single_source([Driver("甲", 7), Driver("乙", 3)], 0.8, 5)
    assert not single_source([Driver("甲", 4)], 0.8, 5)
    assert not single_source([], 0.8, 5)


def test_contradictions_find_near_identical_texts_with_another_label() -> None:
    corpus = [
        (
            "关于学府路口增设信号灯的建议",
            "学府路与建设路交叉口没有信号灯，建议交警部门增设信号灯。",
        ),
        ("关于提高辅警工资的建议", "辅警工资低，建议提高。"),
    ]
    new = [
        (
            "关于学府路口增设信号灯的建议",
            "学府路与建设路交叉口没有信号灯，建议交警部门增设信号灯！",
        ),
        ("关于提高辅警工资的建议", "辅警工资低，建议提高。"),  # same label: no contradiction
        ("关于打击电信诈骗的建议", "诈骗多发，建议严厉打击。"),  # nothing near in the corpus
    ]
    found = contradictions(
        new, ["治安", "辅警", "刑侦"], ["分办人员 李四"] * 3, corpus, ["交通管理", "辅警"], 0.9
    )
    assert len(found) == 1
    c = found[0]
    assert (c.label, c.corpus_label, c.origin) == ("治安", "交通管理", "分办人员 李四")
    assert c.similarity >= 0.9
    assert contradictions([], [], [], corpus, ["交通管理", "辅警"], 0.9) == []


def test_shift_limits_hold_a_large_share_or_a_large_move() -> None:
    a = ["交通管理"] * 6 + ["刑侦"] * 94
    b = ["治安"] * 6 + ["刑侦"] * 94
    d = diff_set("frozen", [(str(i), "x") for i in range(100)], a, b)
    assert shift_problems(d, 0.1, 10) == []
    share = shift_problems(d, 0.05, 10)
    assert len(share) == 1 and "6 条（6.0%）改判，超过上限 5.0%" in share[0]
    move = shift_problems(d, 0.1, 5)
    assert move == ["冻结评估集中 交通管理 → 治安 改判 6 条，超过单项上限 5 条"]
