"""``router batch``: a routed workbook and a summary, or a Chinese reason, exit 2 and no file."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from router.cli import app
from router.settings import Settings
from tests.workbooks import PROPOSALS, ledger_workbook, save, to_bytes

runner = CliRunner()


@pytest.fixture()
def env(settings: Settings, sqlite_url: str) -> dict[str, str]:
    return {
        "ROUTER_HOME": str(settings.home),
        "ROUTER_CORPUS_PATH": str(settings.corpus),
        "ROUTER_DATABASE_URL": sqlite_url,
        "COLUMNS": "400",  # no wrapping of the messages checked below
    }


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    """A folder of its own (the ledger database sits in tmp_path), to see what is left in it."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture()
def ledger(work: Path) -> Path:
    folder = work / "in"
    folder.mkdir()
    return save(ledger_workbook(header_at=4, blank_every=5), folder / "建议一览表.xlsx")


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_batch_writes_the_routed_workbook_and_a_summary(
    env: dict[str, str], ledger: Path, work: Path
) -> None:
    out = work / "结果.xlsx"
    result = runner.invoke(app, ["batch", str(ledger), "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    for text in (
        "批量分办完成",
        f"{len(PROPOSALS)} 行",
        "可批量确认",
        "并案 1 组",
        "已写入",
        "标题：E 列“建议标题”",
    ):
        assert text in result.output, text
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["一览表", "统计", "问题行", "并案"]
    assert wb["一览表"].max_row == len(PROPOSALS) + 1
    assert _only(work) == ["in", "结果.xlsx"]


def test_csv_output_and_explicit_columns(env: dict[str, str], work: Path) -> None:
    src = work / "in.csv"
    src.write_bytes("甲,乙,丙\r\n1,关于加强文明养犬管理的建议,遛狗不牵绳\r\n".encode("gbk"))
    out = work / "out.csv"
    args = ["batch", str(src), "-o", str(out), "--title-col", "乙", "--content-col", "C"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "标题：B 列“乙”（按指定）" in result.output and "编码 GBK" in result.output
    text = out.read_bytes().decode("utf-8-sig")
    assert text.startswith("甲,乙,丙,建议承办单位,置信度") and "治安" in text


def _encrypted() -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    buf = io.BytesIO()
    OOXMLFile(io.BytesIO(to_bytes(ledger_workbook()))).encrypt("pw", buf)
    return buf.getvalue()


def _no_text_column() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["序号", "代表姓名", "备注"])
    ws.append([1, "王建国", "无"])
    return to_bytes(wb)


def _empty() -> bytes:
    return to_bytes(openpyxl.Workbook())


BAD: list[tuple[str, Callable[[], bytes], str]] = [
    ("加密.xlsx", _encrypted, "已加密"),
    ("损坏.xlsx", lambda: to_bytes(ledger_workbook())[:2000], "已损坏"),
    ("空.xlsx", _empty, "是空的"),
    ("无文本列.xlsx", _no_text_column, "未找到可用的文本列"),
    ("图片.xlsx", lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "内容不是 Excel 工作簿"),
    ("繁体.csv", lambda: "編號,標題\r\n1,關於加強養犬管理的建議\r\n".encode("big5"), "无法识别"),
]


@pytest.mark.parametrize(("name", "make", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_with_a_chinese_reason_and_no_file(
    env: dict[str, str], work: Path, name: str, make: Callable[[], bytes], message: str
) -> None:
    src = work / name
    src.write_bytes(make())
    out = work / "结果.xlsx"
    result = runner.invoke(app, ["batch", str(src), "-o", str(out)], env=env)
    assert result.exit_code == 2, result.output
    assert "错误：" in result.output and message in result.output
    assert _only(work) == [name]


def test_over_the_size_limit(env: dict[str, str], ledger: Path, work: Path) -> None:
    out = work / "结果.xlsx"
    result = runner.invoke(
        app, ["batch", str(ledger), "-o", str(out)], env={**env, "ROUTER_BATCH_MAX_FILE_MB": "0"}
    )
    assert result.exit_code == 2 and "超过 0 MB 的上限" in result.output
    assert _only(work) == ["in"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--register"], "--register 需要同时给出届次"),
        (["--kind", "议案"], "--kind 只能是"),
        (["-o", "结果.docx"], "输出文件应为 .xlsx 或 .csv"),
    ],
)
def test_bad_options(
    env: dict[str, str], ledger: Path, work: Path, args: list[str], message: str
) -> None:
    base = ["batch", str(ledger), "-o", str(work / "结果.xlsx")]
    if args[0] == "-o":
        base = ["batch", str(ledger), "-o", str(work / args[1])]
        args = []
    result = runner.invoke(app, base + args, env=env)
    assert result.exit_code == 2 and message in result.output


def test_the_input_is_never_overwritten(env: dict[str, str], ledger: Path) -> None:
    before = ledger.read_bytes()
    result = runner.invoke(app, ["batch", str(ledger), "-o", str(ledger)], env=env)
    assert result.exit_code == 2 and "不能与输入文件相同" in result.output
    assert ledger.read_bytes() == before


def test_register_twice_registers_once(env: dict[str, str], ledger: Path, work: Path) -> None:
    args = [
        "batch",
        str(ledger),
        "-o",
        str(work / "a.xlsx"),
        "--register",
        "--session",
        "十七届三次",
    ]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert f"新登记 {len(PROPOSALS)} 件，已在台账中 0 件" in first.output
    second = runner.invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert f"新登记 0 件，已在台账中 {len(PROPOSALS)} 件" in second.output
    stats = {
        r[0]: r[1]
        for r in openpyxl.load_workbook(work / "a.xlsx")["统计"].iter_rows(values_only=True)
        if r[0]
    }
    assert stats["登记届次"] == "十七届三次" and stats["台账中已有（未重复登记）"] == len(PROPOSALS)


def test_the_summary_shows_five_rows_and_counts_the_rest() -> None:
    from types import SimpleNamespace

    from router.cli.batch import _first_rows
    from router.cli.output import out

    rows = [SimpleNamespace(row=i + 2, number=f"A{i}", reason="缺少内容") for i in range(7)]
    with out.capture() as captured:
        _first_rows(rows, "未登记", "行未登记")
    text = captured.get()
    assert text.count("未登记 第") == 5 and "第 6 行 A4：缺少内容" in text
    assert "第 7 行" not in text and "……另有 2 行未登记，见“问题行”工作表。" in text
