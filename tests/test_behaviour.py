"""The behaviour suite: its data, its variants, and the default model passing it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from router.core.routing import Router
from router.labels import load_labels
from router.learn.behaviour import (
    SuiteError,
    load_suite,
    no_punctuation,
    run_suite,
    swap_places,
    to_fullwidth,
    to_halfwidth,
)

SUITE = Path(__file__).resolve().parents[1] / "data" / "behaviour" / "suite.yaml"
COMMON_OUTSIDE = ["住建局", "交通运输局", "城管局", "生态环境局", "教育局", "卫健委", "人社局"]
COMMON_OUTSIDE += ["市场监管局", "消防救援支队", "民政局"]


def test_every_unit_and_common_department_has_ten_clear_cases() -> None:
    labels = load_labels()
    cases = load_suite(SUITE)
    mft = [c for c in cases if c.kind == "mft"]
    per_unit = Counter(c.expect for c in mft if c.department is None)
    per_department = Counter(c.department for c in mft if c.department)
    for unit in labels.unit_labels:
        assert per_unit[unit] >= 10, unit
    for department in COMMON_OUTSIDE:
        assert department in labels.departments
        assert per_department[department] >= 10, department
    assert all(c.expect in {*labels.unit_labels, labels.outside} for c in cases)
    assert len({(c.title, c.content) for c in mft}) == len(mft)  # no case written twice


def test_invariance_and_directional_cases_are_expanded() -> None:
    cases = load_suite(SUITE)
    variants = Counter(c.variant for c in cases if c.kind == "invariance")
    assert {"原文", "地名替换", "全角", "半角", "英文标点", "去标点"} <= set(variants)
    directional = [c for c in cases if c.kind == "directional"]
    assert {c.jurisdiction for c in directional} == {"police", "partial"}
    assert len(directional) >= 16


def test_the_variants_change_the_text() -> None:
    assert to_fullwidth("8:30(A)") == "８：３０（Ａ）"
    assert to_halfwidth("８：３０（Ａ），") == "8:30(A),"
    assert (
        swap_places("学府路与建设路", {"学府路": "人民路", "建设路": "学府路"}) == "人民路与学府路"
    )
    assert no_punctuation("甲，乙。丙") == "甲 乙 丙"


def test_a_broken_suite_file_is_refused_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text("mft:\n  - expect: 刑侦\n    cases:\n      - {title: 只有标题}\n", "utf-8")
    with pytest.raises(SuiteError, match="缺少“content”"):
        load_suite(path)
    path.write_text("[1, 2", "utf-8")
    with pytest.raises(SuiteError, match="无法读取"):
        load_suite(path)
    with pytest.raises(SuiteError, match="无法读取"):
        load_suite(tmp_path / "missing.yaml")


@pytest.mark.slow
def test_the_default_model_passes_the_behaviour_suite(router: Router) -> None:
    result = run_suite(router, load_suite(SUITE))
    assert result.total >= 250
    assert result.passed, "\n".join(f.describe() for f in result.failures)


@pytest.mark.slow
def test_a_case_the_model_gets_wrong_is_a_failure(router: Router, tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(
        "mft:\n  - expect: 辅警\n    cases:\n"
        "      - {title: 关于增设信号灯的建议, content: 学府路口没有信号灯，建议交警增设信号灯。}\n",
        "utf-8",
    )
    result = run_suite(router, load_suite(path))
    assert not result.passed
    assert "应为 辅警，实为 交通管理" in result.failures[0].describe()
