"""Write data/samples/十七届三次会议代表建议一览表.xlsx: an invented session ledger for `router batch`.

    .venv/bin/python scripts/make_sample_ledger.py

Thirty proposals as a congress office sends them: a title line above the header, the header
on row 3, a blank row, one withdrawn item with no text, two deputies raising the same crossing,
one proposal sent twice, items for every unit and some that are not police business. The texts
are invented (most come from bench/data/merge_issues.yaml); none is copied from the corpus.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import yaml
from openpyxl.styles import Alignment, Font

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "data" / "samples" / "十七届三次会议代表建议一览表.xlsx"
NAMES = "王建国 李秀英 张伟 刘芳 陈明 杨丽 赵强 周静 吴敏 郑洁 孙亮 钱坤 冯雪 何平 高原 罗兰 林涛 宋佳 唐宁 韩冰".split()
UNITS = "市第一中学 城东街道办事处 市人民医院 临江区农业农村局 市交通运输集团 双溪县石门镇 某科技有限公司 市妇幼保健院".split()
EXTRA = [
    (
        "关于学府路口增设信号灯并拓宽道路的建议",
        "学府路与新华路交叉口没有信号灯，早晚高峰车辆抢行，险情不断。建议交警部门在该路口增设信号灯、施划人行横道，同时建议有关部门将学府路拓宽为双向四车道。",
    ),
    (
        "关于加强出租屋流动人口登记管理的建议",
        "城中村出租屋多，租客流动快，不少房东不登记租客身份信息。建议公安机关督促房东落实租住登记，定期开展出租屋治安检查。",
    ),
    (
        "关于规范校外培训机构收费的建议",
        "部分校外培训机构预收学费后跑路，家长维权困难。建议教育和市场监管部门加强预收费监管。",
    ),
    (
        "关于加强网吧和KTV未成年人管理的建议",
        "一些网吧、KTV违规接纳未成年人，夜间容易发生打架斗殴。建议公安机关加大对娱乐场所的检查力度。",
    ),
    (
        "建议开通无犯罪记录证明网上申请",
        "求职、出国都需要无犯罪记录证明，目前还要到派出所窗口现场申请。建议开通网上申请、电子证明，减少群众跑腿。",
    ),
]


def main() -> None:
    issues = yaml.safe_load(
        (ROOT / "bench" / "data" / "merge_issues.yaml").read_text(encoding="utf-8")
    )["issues"]
    items: list[tuple[str, str]] = [(v[0]["title"], v[0]["content"]) for v in issues.values()]
    items.insert(
        2, (issues["signal_timing"][2]["title"], issues["signal_timing"][2]["content"])
    )  # same crossing
    items.insert(6, (issues["elderly_fraud"][1]["title"], issues["elderly_fraud"][1]["content"]))
    items += EXTRA
    items += [
        (issues[k][1]["title"], issues[k][1]["content"])
        for k in ("school_gate", "police_shortage", "auxiliary_pay", "battery_theft")
    ]
    dog = issues["dog_leash"][0]
    items.insert(20, (dog["title"], dog["content"].replace("，", ",")))  # sent again, re-typed
    items.insert(12, ("", ""))  # withdrawn: the row stays, the text is gone
    items = items[:30]

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "建议一览表"
    header = ["序号", "建议号", "领衔代表", "代表单位", "建议标题", "主要内容", "收到日期", "备注"]
    ws["A1"] = "市第十七届人民代表大会第三次会议代表建议一览表"
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws["A2"] = "市人大常委会代表工作室  2027年1月"
    ws.append(header)
    for cell in ws[3]:
        cell.font = Font(bold=True)
    row = 4
    for i, (title, content) in enumerate(items):
        if i == 15:
            row += 1  # a blank row left in the middle, as clerks do
        note = "代表已撤回" if not title else ""
        values = [
            i + 1,
            f"第{i + 1:03d}号",
            NAMES[i % len(NAMES)],
            UNITS[i % len(UNITS)],
            title,
            content,
            "2027-01-15",
            note,
        ]
        for c, v in enumerate(values, start=1):
            ws.cell(row, c, v)
        row += 1
    for col, width in zip("ABCDEFGH", (6, 10, 10, 18, 40, 80, 12, 12), strict=True):
        ws.column_dimensions[col].width = width
    DEST.parent.mkdir(parents=True, exist_ok=True)
    wb.save(DEST)
    print(f"wrote {DEST} ({len(items)} rows)")


if __name__ == "__main__":
    main()
