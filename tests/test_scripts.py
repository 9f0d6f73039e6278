"""scripts/router runs in the caller's folder, with the project folder as ROUTER_HOME."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fake_project(tmp_path: Path) -> Path:
    """The real scripts/router beside a bootstrap that does nothing and a router that reports."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    (project / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "router", project / "scripts" / "router")
    (project / "scripts" / "bootstrap").write_text("#!/usr/bin/env bash\nexit 0\n")
    fake = project / ".venv" / "bin" / "router"
    fake.write_text(
        '#!/usr/bin/env bash\necho "cwd=$PWD"\necho "home=$ROUTER_HOME"\necho "args=$*"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return project


def test_the_callers_folder_is_kept(tmp_path: Path) -> None:
    project = _fake_project(tmp_path)
    elsewhere = tmp_path / "我的文件"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ROUTER_HOME"}
    out = subprocess.run(
        ["bash", str(project / "scripts" / "router"), "batch", "mine.csv", "-o", "out.xlsx"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == [f"cwd={elsewhere}", f"home={project}", "args=batch mine.csv -o out.xlsx"]


def test_a_set_router_home_wins(tmp_path: Path) -> None:
    _fake_project(tmp_path)
    env = {**os.environ, "ROUTER_HOME": str(tmp_path)}
    out = subprocess.run(
        ["bash", "project/scripts/router", "models", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[:2] == [f"cwd={tmp_path}", f"home={tmp_path}"]
