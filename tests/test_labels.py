from __future__ import annotations

import pytest

from router.labels import load_labels, parse_label_set


def test_seven_units_and_the_outside_label() -> None:
    labels = load_labels()
    assert labels.unit_labels == ("交通管理", "刑侦", "网安", "治安", "人事", "政务服务", "辅警")
    assert labels.classes[-1] == labels.outside
    assert {"住建局", "交通运输局", "城管局", "消防救援支队", "人社局"} <= set(labels.departments)


def test_renamed_or_merged_units_keep_counting() -> None:
    data = {
        "version": 2,
        "outside_label": "非公安职责",
        "units": [{"label": "交通管理", "unit": "交警支队", "handles": "..."}],
        "departments": {},
        "aliases": {"交警": "交通管理", "车管": "交通管理"},
    }
    labels = parse_label_set(data)
    assert labels.canonical("车管") == "交通管理"
    assert labels.canonical(" 交警支队 ") == "交通管理"
    with pytest.raises(ValueError, match="未知的承办单位"):
        labels.canonical("宣传处")
