"""The service against a real PostgreSQL server: migration at start-up, a full ledger round."""

from __future__ import annotations

from typing import Any

import pytest

from router.api import create_app
from router.db import current_revision, head_revision, make_engine
from router.settings import Settings
from tests.conftest import TOKEN, AppClient, make_account

pytestmark = pytest.mark.postgres
API = "/api/v1"


def test_a_ledger_round_on_postgres(settings: Settings, postgres_url: str, serving: Any) -> None:
    pg = settings.model_copy(update={"database_url": postgres_url, "api_token": TOKEN})
    auth = make_account(postgres_url, "张三")
    c = AppClient(create_app(pg, serving=serving), headers=auth)
    try:
        engine = make_engine(postgres_url)
        assert current_revision(engine) == head_revision()  # upgraded by the lifespan
        engine.dispose()
        assert c.get(f"{API}/readyz").json()["database"] == "ok"
        body = {
            "number": "1",
            "session": "十七届三次",
            "title": "反诈宣传进社区",
            "content": "建议加强反诈宣传",
        }
        p = c.post(f"{API}/proposals", json=body, headers=auth).json()
        assert c.post(f"{API}/proposals", json=body, headers=auth).status_code == 200
        ok = c.post(
            f"{API}/proposals/{p['id']}/decision",
            json={"lead_unit": "刑侦", "expected_version": 1},
            headers=auth,
        )
        late = c.post(
            f"{API}/proposals/{p['id']}/decision",
            json={"lead_unit": "网安", "reason_code": "其他", "expected_version": 1},
            headers=auth,
        )
        assert ok.status_code == 200 and late.status_code == 409
        c.post(
            f"{API}/proposals/{p['id']}/status",
            json={"status": "已答复", "expected_version": 2},
            headers=auth,
        )
        c.post(
            f"{API}/proposals/{p['id']}/evaluation",
            json={"evaluation": "满意", "expected_version": 3},
            headers=auth,
        )
        stats = c.get(f"{API}/stats").json()
        assert stats["satisfaction_rate"] == 1.0 and stats["by_status"]["已答复"] == 1
        detail = c.get(f"{API}/proposals/{p['id']}").json()
        assert [e["action"] for e in detail["events"]] == [
            "registered",
            "decided",
            "status",
            "evaluated",
        ]
        assert detail["created_at"].endswith("Z") or detail["created_at"].endswith("+00:00")
    finally:
        c.close()
