from __future__ import annotations

from typing import Any

import pytest

from router.core.routing import Router
from router.core.rules import RulesError, load_rules, parse_rules


def _words(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for hit in load_rules().match(text):
        for e in hit.evidence:
            assert text[e.start : e.end] == e.word  # positions point at the evidence
            for dep in e.departments:
                found.setdefault(dep, []).append(e.word)
    return found


@pytest.mark.parametrize(
    ("sentence", "department"),
    [
        ("建议对幸福大道进行拓宽改造", "住建局"),
        ("小区门口的减速带早已损坏", "住建局"),
        ("希望增开一条通往高铁站的公交线路", "交通运输局"),
        ("夜市占道经营严重，垃圾遍地", "城管局"),
        ("工地夜间施工噪音扰民", "生态环境局"),
        ("楼道里给电动车充电，火灾隐患很大", "消防救援支队"),
        ("农民工工资被拖欠半年", "人社局"),
        ("小区物业服务差，维修基金去向不明", "房管局"),
        ("片区学位紧张，孩子入学难", "教育局"),
        ("大医院挂号难、看病难", "卫健委"),
        ("菜市场缺斤短两", "市场监管局"),
        ("养老机构床位不足", "民政局"),
        ("申请法律援助的门槛太高", "司法局"),
    ],
)
def test_outside_topics_name_their_department(sentence: str, department: str) -> None:
    assert department in _words(sentence)


def test_police_work_does_not_trigger() -> None:
    for sentence in (
        "建议在实验小学门口增设红绿灯，优化信号灯配时",
        "广场舞噪音扰民，请派出所协调",
        "加大电信网络诈骗打击力度",
        "医院门口违停严重，建议交警加强巡查",
    ):
        assert _words(sentence) == {}, sentence


def test_mixed_proposal_keeps_the_outside_part() -> None:
    found = _words("建议在路口增设信号灯，同时将道路拓宽为双向四车道")
    assert found == {"住建局": ["道路拓宽"], "市政": ["道路拓宽"]}


def test_ambiguous_word_is_cancelled_only_near_an_exception() -> None:
    assert "卫健委" in _words("医院排队时间太长")
    assert "卫健委" not in _words("医院排队的车辆违停占道")


def test_unknown_department_or_bad_pattern_is_refused() -> None:
    with pytest.raises(RulesError, match="未知部门"):
        parse_rules(
            {"rules": [{"id": "x", "departments": ["外星局"], "patterns": ["a"]}]}, {"住建局"}
        )
    with pytest.raises(RulesError, match="格式错误"):
        parse_rules(
            {"rules": [{"id": "x", "departments": ["住建局"], "patterns": ["("]}]}, {"住建局"}
        )
    with pytest.raises(RulesError, match="没有任何模式"):
        parse_rules({"rules": [{"id": "x", "departments": ["住建局"]}]}, {"住建局"})


def _rule_examples() -> list[tuple[str, str, bool]]:
    from importlib import resources

    import yaml

    raw = yaml.safe_load(
        resources.files("router").joinpath("resources/jurisdiction_rules.yaml").read_text("utf-8")
    )
    cases = []
    for rule in raw["rules"]:
        for sentence in rule["examples"]["match"]:
            cases.append((rule["id"], sentence, True))
        for sentence in rule["examples"]["no_match"]:
            cases.append((rule["id"], sentence, False))
    return cases


def test_every_rule_has_a_table_of_phrasings() -> None:
    cases = _rule_examples()
    ids = {r.id for r in load_rules().rules}
    assert {c[0] for c in cases if c[2]} == ids
    assert {c[0] for c in cases if not c[2]} == ids


@pytest.mark.parametrize(("rule_id", "sentence", "should"), _rule_examples())
def test_rule_phrasings(rule_id: str, sentence: str, should: bool) -> None:
    """Each rule's own table: the phrasings it must match, and those it must leave alone."""
    from router.core.text import prepare

    hit = {h.rule.id for h in load_rules().match(prepare(sentence, None))}
    assert (rule_id in hit) == should, (rule_id, sentence, sorted(hit))


def _cue_examples() -> tuple[list[list[str]], list[str]]:
    from importlib import resources

    import yaml

    raw = yaml.safe_load(
        resources.files("router").joinpath("resources/police_cues.yaml").read_text("utf-8")
    )
    return raw["examples"]["match"], raw["examples"]["no_match"]


def test_police_cues_find_the_unit_asked_for() -> None:
    from router.core.rules import load_cues
    from router.core.text import prepare

    cues = load_cues()
    should, should_not = _cue_examples()
    for sentence, unit in should:
        found = [u for u, _ in cues.find(prepare(sentence, None))]
        assert unit in found, (sentence, found)
    for sentence in should_not:
        assert cues.find(prepare(sentence, None)) == [], sentence


def test_an_unsure_outside_answer_with_a_police_cue_becomes_partial(router: Router) -> None:
    import dataclasses

    from router.core.routing import _decide
    from router.core.text import prepare

    classes = list(router.model.classes)
    proba = [0.0] * len(classes)
    proba[classes.index(router.labels.outside)] = 0.7
    proba[classes.index("政务服务")] = 0.2
    proba[classes.index("交通管理")] = 0.1

    def decide(cue_outside: float, text: str) -> Any:
        th = dataclasses.replace(router.thresholds, cue_outside=cue_outside, outside_floor=0.0)
        return _decide(dataclasses.replace(router, thresholds=th), text, proba, [])

    asks = prepare("咨询外地户口买新车上牌要带哪些材料", None)
    d = decide(0.8, asks)
    assert d.unit == "交通管理" and d.jurisdiction == "partial" and d.needs_review
    assert any("公安事项" in r for r in d.review_reasons)
    assert decide(0.6, asks).unit is None  # the model was sure enough: it stands
    assert decide(0.8, prepare("小区物业费太贵了，物业服务也差", None)).unit is None
