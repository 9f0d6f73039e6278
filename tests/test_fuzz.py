"""schemathesis against the live service, on SQLite and on PostgreSQL (issue 12).

A real ``router serve`` (uvicorn, one worker) on a free loopback port; every operation of its
OpenAPI gets generated requests, valid and invalid, with the token and a dispatcher's name.
Each answer must be no server error (5xx), a documented status code, the documented content
type, and match the documented schema. Bounded: ``FUZZ_EXAMPLES`` cases per operation and
mode (default 20), about a minute per database on two cores.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import CORPUS, TOKEN, make_account

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
REVOKE = "DELETE /api/v1/auth/tokens/{token_id}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(
    request: pytest.FixtureRequest, trained_home: Path, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """A served app and an administrator's personal token (every endpoint needs an account)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--port", str(port)],
        env={
            **os.environ,
            "ROUTER_HOME": str(trained_home),
            "ROUTER_CORPUS_PATH": str(CORPUS),
            "ROUTER_API_TOKEN": TOKEN,
            "ROUTER_DATABASE_URL": url,
            "ROUTER_MODEL_WATCH_SECONDS": "0",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(base + "/api/v1/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not become ready: " + (tmp_path / "serve.log").read_text())
        yield base, make_account(url, "管理员甲", "管理员")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()
        errors = [
            line
            for line in (tmp_path / "serve.log").read_text(errors="replace").splitlines()
            if "Traceback" in line or " 500 " in line
        ]
        assert not errors, f"server log: {len(errors)} tracebacks or 500s"


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live: tuple[str, dict[str, str]],
) -> None:
    live_url, auth = live
    import hypothesis
    import hypothesis.errors
    import schemathesis
    from hypothesis import HealthCheck, Phase
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(live_url + "/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    import httpx

    (mine,) = httpx.get(live_url + "/api/v1/auth/tokens", headers=auth, timeout=10).json()
    own = mine["id"]
    statuses: Counter[int] = Counter()
    # operations that refused the account's own token (401); a negative case that leaves the
    # Authorization header out is rightly 401, a wrong password at login too
    refused: dict[str, str] = {}
    failures: list[str] = []
    cases = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                nonlocal cases
                # Revoking the fuzzer's own token would leave the rest of the run at 401; the
                # other destructive account calls cannot hurt it (disabling oneself is refused,
                # a password reset keeps the tokens), and schemathesis' names never hit its own.
                if case.operation.label == REVOKE and case.path_parameters == {"token_id": own}:
                    hypothesis.reject()
                headers = dict(auth)
                if not case.headers or "X-Dispatcher" not in case.headers:
                    headers["X-Dispatcher"] = quote("张三")
                cases += 1
                try:
                    response = case.call(base_url=live_url, headers=headers, timeout=60)
                except Exception as exc:  # noqa: BLE001 - a dropped connection is a failure too
                    failures.append(f"{case.operation.label}: no answer ({exc!r})")
                    return
                statuses[response.status_code] += 1
                sent = response.request.headers.get("Authorization")
                if response.status_code == 401 and sent == auth["Authorization"]:
                    refused.setdefault(case.operation.label, response.text[:200])
                try:
                    case.validate_response(response, checks=checks, headers=headers)
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - recorded, run on
                    # schemathesis raises its FailureGroup, a BaseExceptionGroup
                    first = str(exc).strip().splitlines()[:6]
                    failures.append(f"{case.operation.label}: " + " | ".join(first))

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing to make invalid (no parameters, no body): positive cases only
    seconds = time.monotonic() - started
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    sys.stderr.write(  # the figures, shown with -s
        f"\nschemathesis: {cases} cases in {seconds:.0f} s; statuses {dict(sorted(statuses.items()))}; "
        f"server errors {server_errors}; failed checks {len(failures)}\n"
    )
    unique = sorted(set(failures))
    assert server_errors == 0 and not unique, "\n".join(unique[:30])
    # the account stayed usable throughout: the cases reached the endpoints behind it
    assert set(refused) <= {"POST /api/v1/auth/login"}, refused
    assert httpx.get(live_url + "/api/v1/auth/me", headers=auth, timeout=10).status_code == 200
