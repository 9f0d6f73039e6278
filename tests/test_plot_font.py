"""The report's plots draw Chinese labels with a CJK font, never as empty boxes."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest

from router.learn import evaluate
from tests.conftest import require_or_skip

CLASSES = ["交通管理", "刑侦", "网安", "治安", "人事", "政务服务", "辅警", "非公安职责"]


def _installed() -> bool:
    return any(Path(p).is_file() for p in evaluate.CJK_FONT_FILES)


def test_a_cjk_font_is_found_when_installed() -> None:
    if not _installed():
        require_or_skip("no CJK font installed (apt-get install fonts-wqy-zenhei)")
    assert evaluate.cjk_font() in evaluate.CJK_FONTS


@pytest.mark.parametrize("kind", ["confusion", "reliability", "coverage"])
def test_plots_have_every_glyph(kind: str) -> None:
    if evaluate.cjk_font() is None:
        require_or_skip("no CJK font installed (apt-get install fonts-wqy-zenhei)")
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(len(CLASSES)), size=60)
    y_true = [CLASSES[i % len(CLASSES)] for i in range(60)]
    if kind == "confusion":
        y_pred = [CLASSES[i] for i in proba.argmax(axis=1)]
        fig = evaluate.confusion_figure(y_true, y_pred, CLASSES)
    elif kind == "reliability":
        fig = evaluate.reliability_figure(y_true, proba, CLASSES)
    else:
        fig = evaluate.coverage_figure(y_true, proba, CLASSES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph 20132 (\\N{...}) missing from font(s) ..." fails
        evaluate._font()
        fig.savefig(io.BytesIO(), format="png")
    title = fig.axes[0].title
    from matplotlib import font_manager

    used = font_manager.findfont(title.get_fontproperties(), fallback_to_default=False)
    assert Path(used).name.lower().startswith(("wqy", "notosanscjk", "droidsans", "simhei", "msyh"))


def test_a_missing_glyph_is_caught() -> None:
    """The check above would fail on the old behaviour: DejaVu Sans alone has no 汉字."""
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    ax = fig.subplots()
    ax.set_title("混淆矩阵")
    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Sans"], "font.family": "sans-serif"}):
        with warnings.catch_warnings(), pytest.raises(UserWarning, match="missing from font"):
            warnings.simplefilter("error")
            fig.savefig(io.BytesIO(), format="png")


def test_no_english_font_weight_line(caplog: pytest.LogCaptureFixture) -> None:
    if evaluate.cjk_font() is None:
        require_or_skip("no CJK font installed (apt-get install fonts-wqy-zenhei)")
    proba = np.full((8, len(CLASSES)), 1 / len(CLASSES))
    with caplog.at_level("WARNING", logger="matplotlib.font_manager"):
        fig = evaluate.reliability_figure(CLASSES, proba, CLASSES)
        with evaluate._cjk_font():
            fig.savefig(io.BytesIO(), format="png")
    assert not [r for r in caplog.records if "font weight" in r.getMessage()]
