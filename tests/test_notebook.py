"""The error-analysis notebook runs top to bottom against the package, so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.settings import Settings

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "error_analysis.ipynb"


@pytest.mark.slow
def test_error_analysis_notebook_executes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("ROUTER_HOME", str(settings.home))
    monkeypatch.setenv("ROUTER_CORPUS_PATH", str(settings.corpus))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # confusion matrix and reliability plot
    text = "".join(o.get("text", "") for o in outputs)
    assert "宏 F1" in text
