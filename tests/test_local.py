"""Local jurisdiction (本地职责), thin and unfamiliar text: review reasons and the bureau's own
settings, through the core, the command line and the API."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from router.core.local import CONTESTED, LocalError, LocalJurisdiction, history, set_choice
from router.core.routing import Router, route

CAFE = "关于加强网吧管理的建议：城东区不少网吧违规接纳未成年人上网，通宵营业，家长意见很大。"


def _with_local(router: Router, path: Path) -> Router:
    return dataclasses.replace(router, local=LocalJurisdiction(path))


def test_a_contested_topic_names_both_candidates_and_goes_to_review(
    router: Router, tmp_path: Path
) -> None:
    d = route(_with_local(router, tmp_path / "local.json"), CAFE)
    assert d.local is not None and d.local.topic == "internet_cafe"
    assert d.local.candidates == ["网安", "文化和旅游局"] and d.local.handler is None
    assert d.needs_review and not d.bulk_confirmable
    assert any(r.startswith(CONTESTED) for r in d.review_reasons)


def test_a_local_setting_is_followed_and_said(router: Router, tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    r = _with_local(router, path)
    set_choice(path, "internet_cafe", "文化和旅游局", by="督查室王五", reason="市编办文件")
    d = route(r, CAFE)
    assert d.unit is None and d.jurisdiction == "outside"
    assert d.departments[0] == "文化和旅游局"
    assert d.local is not None and d.local.applied and d.local.handler == "文化和旅游局"
    assert not any(x.startswith(CONTESTED) for x in d.review_reasons)
    set_choice(path, "internet_cafe", "网安", by="督查室王五")
    d = route(r, CAFE)  # picked up at the next decision, no reload
    assert d.unit == "网安" and d.local is not None and d.local.applied


def test_a_topic_mentioned_in_passing_does_not_take_over(router: Router, tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    set_choice(path, "internet_cafe", "文化和旅游局", by="督查室")
    text = (
        "建议加大电信网络诈骗打击力度。近期多名老人被冒充公检法的骗子骗走积蓄，"
        "有的骗子就躲在网吧里打电话，请刑侦部门追查诈骗团伙，加强反诈宣传。"
    )
    d = route(_with_local(router, path), text)
    assert d.unit == "刑侦"


def test_settings_are_versioned_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    set_choice(path, "dogs", "城管局", by="甲", reason="一")
    set_choice(path, "dogs", "治安", by="乙", reason="二")
    set_choice(path, "dogs", None, by="丙")
    entries = history(path)
    assert [e["version"] for e in entries] == [1, 2, 3]
    assert [(e["previous"], e["handler"], e["by"]) for e in entries] == [
        (None, "城管局", "甲"),
        ("城管局", "治安", "乙"),
        ("治安", None, "丙"),
    ]
    assert LocalJurisdiction(path).choices() == {}
    with pytest.raises(LocalError, match="只能由"):
        set_choice(path, "dogs", "刑侦", by="甲")
    with pytest.raises(LocalError, match="没有这个事项"):
        set_choice(path, "no_such_topic", "治安", by="甲")
    with pytest.raises(LocalError, match="设置人"):
        set_choice(path, "dogs", "治安", by=" ")
    assert json.loads(path.read_text("utf-8"))["version"] == 3


def test_too_little_text_caps_the_confidence(router: Router) -> None:
    d = route(router, "交通")
    assert d.confidence <= router.thresholds.thin_cap
    assert d.needs_review and not d.bulk_confirmable
    assert any("文字过少" in r for r in d.review_reasons)


def test_unfamiliar_text_asks_for_review(router: Router) -> None:
    familiar = route(router, "关于在学府路与建设路交叉口增设信号灯的建议")
    strange = route(router, "量子色动力学中的渐近自由与夸克禁闭现象的格点计算方法研究综述")
    assert familiar.familiarity is not None and strange.familiarity is not None
    assert strange.familiarity < familiar.familiarity
    strict = dataclasses.replace(
        router,
        thresholds=dataclasses.replace(router.thresholds, unfamiliar=strange.familiarity + 0.01),
    )
    d = route(strict, "量子色动力学中的渐近自由与夸克禁闭现象的格点计算方法研究综述")
    assert any("与以往建议差异较大" in r for r in d.review_reasons)
    assert not any(
        "差异较大" in r
        for r in route(router, "关于在学府路与建设路交叉口增设信号灯的建议").review_reasons
    )


def test_cli_sets_lists_and_shows_history(tmp_path: Path, settings: Any) -> None:
    from typer.testing import CliRunner

    from router.cli import app

    env = {
        "ROUTER_HOME": str(settings.home),
        "ROUTER_LOCAL_JURISDICTION_PATH": str(tmp_path / "local.json"),
    }
    runner = CliRunner()
    r = runner.invoke(
        app, ["jurisdiction", "set", "school_bullying", "教育局", "--by", "王五"], env=env
    )
    assert r.exit_code == 0, r.output
    assert "校园欺凌" in r.output and "教育局" in r.output
    r = runner.invoke(
        app, ["jurisdiction", "set", "school_bullying", "刑侦", "--by", "王五"], env=env
    )
    assert r.exit_code == 2 and "只能由" in r.output
    r = runner.invoke(app, ["jurisdiction", "list"], env=env)
    assert r.exit_code == 0 and "教育局" in r.output
    r = runner.invoke(app, ["jurisdiction", "history"], env=env)
    assert r.exit_code == 0 and "王五" in r.output


def test_api_sets_and_audits(
    api_settings: Any, serving: Any, tmp_path: Path, auth: dict[str, str]
) -> None:
    from router.api import create_app
    from tests.conftest import AppClient, make_account

    s = api_settings.model_copy(update={"local_jurisdiction_path": tmp_path / "local.json"})
    c = AppClient(create_app(s, serving=serving))
    try:
        assert c.get("/api/v1/jurisdiction").status_code == 401  # reads need an account too
        r = c.get("/api/v1/jurisdiction", headers=auth)
        assert r.status_code == 200
        topics = {t["topic"]: t for t in r.json()["topics"]}
        assert topics["thrown_objects"]["handler"] is None
        r = c.put(
            "/api/v1/jurisdiction/thrown_objects", json={"handler": "城管局", "reason": "分工文件"}
        )
        assert r.status_code == 401
        r = c.put(
            "/api/v1/jurisdiction/thrown_objects",
            json={"handler": "城管局", "reason": "分工文件"},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        assert {t["topic"]: t for t in r.json()["topics"]}["thrown_objects"]["handler"] == "城管局"
        r = c.put("/api/v1/jurisdiction/thrown_objects", json={"handler": "网安"}, headers=auth)
        assert r.status_code == 422 and "只能由" in r.json()["detail"]
        r = c.put("/api/v1/jurisdiction/nothing", json={"handler": "网安"}, headers=auth)
        assert r.status_code == 404
        unit = make_account(s.db_url, "交警李", "承办单位经办人", unit="交警支队")
        r = c.put("/api/v1/jurisdiction/thrown_objects", json={"handler": "治安"}, headers=unit)
        assert r.status_code == 403  # a handling unit's account changes no settings
        h = c.get("/api/v1/jurisdiction/history", headers=auth).json()
        assert len(h) == 1 and h[0]["handler"] == "城管局" and h[0]["reason"] == "分工文件"
    finally:
        c.close()
