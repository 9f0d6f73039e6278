"""Behaviour of the trained model and the decision built on it."""

from __future__ import annotations

import pytest

from router.core.routing import Decision, InputError, Router, route, route_many

CLEAR = [
    (
        "关于优化城东大道信号灯配时的建议",
        "早晚高峰左转车辆排队过长，建议交警部门调整信号灯配时，增设左转待转区。",
        "交通管理",
    ),
    (
        "严厉打击电信网络诈骗",
        "近年来冒充客服、刷单返利等电信网络诈骗案件高发，建议加大打击力度，追赃挽损。",
        "刑侦",
    ),
    (
        "关于整治自媒体造谣的建议",
        "一些自媒体账号为博流量编造网络谣言，建议加强网络平台监管，依法处置。",
        "网安",
    ),
    (
        "关于加强文明养犬管理的建议",
        "小区内遛狗不牵绳、烈性犬伤人事件时有发生，建议加强养犬登记和执法。",
        "治安",
    ),
    (
        "关于充实基层派出所警力的建议",
        "基层派出所警力严重不足，民警长期超负荷加班，建议增加编制、优化警力配置。",
        "人事",
    ),
    (
        "关于优化户口迁移办理流程的建议",
        "群众办理户口迁移要两地来回跑，建议推行跨省通办，简化落户材料。",
        "政务服务",
    ),
    (
        "关于提高辅警待遇的建议",
        "辅警工资低、五险一金缴纳不全，队伍流失严重，建议建立辅警薪酬增长机制。",
        "辅警",
    ),
]

OUTSIDE = [
    (
        "关于增开公交线路的建议",
        "新城片区居民出行不便，建议增开一条通往火车站的公交线路，延长末班车时间。",
        "交通运输局",
    ),
    (
        "老旧小区消防通道被堵",
        "小区楼道里堆放杂物，居民在楼道内给电动车充电，消防通道被占，火灾隐患大。",
        "消防救援支队",
    ),
    (
        "关于解决农民工工资拖欠问题的建议",
        "部分工地拖欠农民工工资，年底讨薪难，建议加强劳动监察。",
        "人社局",
    ),
    ("夜市占道经营", "夜市摊贩占道经营，油烟和垃圾影响市容，建议规范管理。", "城管局"),
]


def _route(router: Router, title: str, content: str) -> Decision:
    return route(router, title, content)


@pytest.mark.parametrize(("title", "content", "unit"), CLEAR)
def test_clear_case_per_unit(router: Router, title: str, content: str, unit: str) -> None:
    d = _route(router, title, content)
    assert d.unit == unit
    assert d.jurisdiction == "police"
    assert d.model_version == router.version
    assert d.top_terms and all(t.weight > 0 for t in d.top_terms)


@pytest.mark.parametrize(("title", "content", "department"), OUTSIDE)
def test_common_outside_departments(
    router: Router, title: str, content: str, department: str
) -> None:
    d = _route(router, title, content)
    assert d.jurisdiction == "outside"
    assert d.unit is None
    assert department in d.departments
    assert d.evidence


def test_mixed_proposal_comes_back_partial(router: Router) -> None:
    d = _route(
        router,
        "关于解决学府路拥堵问题的建议",
        "学府路与建设路交叉口高峰拥堵严重，建议交警部门增设信号灯、优化配时，同时对学府路进行拓宽改造，打通断头路。",
    )
    assert d.jurisdiction == "partial"
    assert d.unit == "交通管理"
    assert "住建局" in d.departments
    assert {e.word for e in d.evidence} & {"拓宽", "断头路", "拓宽改造"}


@pytest.mark.parametrize(("title", "content", "unit"), CLEAR)
def test_invariant_to_place_names(router: Router, title: str, content: str, unit: str) -> None:
    for place in ("青石区", "北塘区望江街道", "双溪县石桥镇"):
        assert _route(router, place + title, f"{place}{content}").unit == unit


@pytest.mark.parametrize(("title", "content", "unit"), CLEAR)
def test_invariant_to_full_width_punctuation(
    router: Router, title: str, content: str, unit: str
) -> None:
    half = content.replace("，", ",").replace("。", ".").replace("、", ",")
    a, b = _route(router, title, content), _route(router, title, half)
    assert a.unit == b.unit == unit
    assert a.confidence == pytest.approx(b.confidence, abs=0.02)


def test_alternatives_and_confidence_are_consistent(router: Router) -> None:
    d = _route(
        router,
        "关于加强校园周边安全的建议",
        "建议在学校门口设置护学岗，上下学高峰安排民警和保安值守。",
    )
    assert len(d.alternatives) == 2
    assert all(a.unit != d.unit for a in d.alternatives)
    assert d.confidence >= d.alternatives[0].confidence >= d.alternatives[1].confidence
    assert set(d.co_units) <= {"交通管理", "刑侦", "网安", "治安", "人事", "政务服务", "辅警"} - {
        d.unit
    }


def test_title_only_input_is_routed(router: Router) -> None:
    assert _route(router, "关于提高辅警工资待遇的建议", "").unit == "辅警"


def test_low_confidence_is_sent_to_review(router: Router) -> None:
    d = _route(router, "建议", "请有关部门重视。")
    assert d.needs_review
    assert d.review_reasons


@pytest.mark.parametrize(("title", "content"), [("", ""), ("   ", "\n\t "), (None, None)])
def test_empty_text_is_refused(router: Router, title: str | None, content: str | None) -> None:
    with pytest.raises(InputError, match="不能同时为空"):
        route(router, title, content)


def test_oversized_text_is_refused(router: Router) -> None:
    with pytest.raises(InputError, match="文本过长"):
        route(router, "标题", "字" * (router.thresholds.max_chars + 1))


def test_route_many_keeps_order_and_reports_bad_items_in_place(router: Router) -> None:
    items: list[tuple[str | None, str | None]] = [
        ("关于提高辅警待遇的建议", ""),
        ("", "  "),
        ("严厉打击电信网络诈骗", "追赃挽损"),
    ]
    out = route_many(router, items)
    assert len(out) == 3
    assert isinstance(out[0], Decision) and out[0].unit == "辅警"
    assert isinstance(out[1], InputError)
    assert isinstance(out[2], Decision) and out[2].unit == "刑侦"
    single = route(router, *items[2])
    assert out[2].confidence == pytest.approx(single.confidence)
