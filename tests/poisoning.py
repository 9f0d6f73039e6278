"""Invented proposals for the poisoning replays (issue 14) and for an honest retrain.

Each generator returns (title, content) pairs built from templates, deterministic for a seed,
so that a test can feed them to the ledger API or write them into a past session's workbook.
"""

from __future__ import annotations

import random
from typing import Any

ROADS = [
    "学府路", "建设路", "人民路", "解放路", "滨江大道", "中山路", "新华路", "长江路", "黄河路",
    "青年路", "光明路", "胜利路", "文化路", "工业大道", "迎宾大道", "东风路", "和平路", "幸福路",
    "育才路", "南湖路", "北环路", "西环路", "东环路", "金山路", "银河路", "朝阳路", "春晖路",
    "翠湖路", "花园路", "兴业路",
]  # fmt: skip
PLACES = [
    "临江区", "青山区", "双溪县", "石门县", "城关镇", "江南新区", "城北新区", "高新区",
    "经开区", "东湖街道", "西园街道", "南门街道",
]  # fmt: skip
SITES = [
    "实验小学", "第一中学", "市人民医院", "中心医院", "火车站", "汽车站", "万达广场",
    "农贸市场", "体育中心", "图书馆", "育才小学", "妇幼保健院",
]  # fmt: skip


def _pick(rng: random.Random, items: list[str]) -> str:
    return items[rng.randrange(len(items))]


def signal_lights(n: int, seed: int = 1) -> list[tuple[str, str]]:
    """Proposals about traffic signals: 交通管理 by the domain guide."""
    rng = random.Random(seed)
    titles = [
        "关于{r}与{s}交叉口增设信号灯的建议",
        "关于在{r}{site}路口安装红绿灯的建议",
        "关于优化{r}信号灯配时的建议",
        "关于{place}{r}路口设置行人过街信号灯的建议",
        "关于调整{r}与{s}路口红绿灯时长的建议",
    ]
    bodies = [
        "{r}与{s}交叉口车流量大，目前没有信号灯，车辆抢行，行人过街十分危险，建议交警部门尽快增设信号灯。",
        "{site}门前的{r}路口早晚高峰人车混行，建议交警部门安装红绿灯，设置行人过街信号，保障通行安全。",
        "{r}沿线信号灯配时不合理，红灯时间过长，车辆排队严重，建议交警部门根据车流优化信号灯配时，实行绿波通行。",
        "{place}{r}路口老人和学生多，过街没有信号灯，险情不断，建议增设行人过街信号灯和斑马线。",
        "{r}与{s}路口左转绿灯只有十几秒，左转车辆积压，建议交警部门调整红绿灯时长，增加左转相位。",
    ]
    out = []
    for i in range(n):
        r, s = rng.sample(ROADS, 2)
        k = i % len(titles)
        fill = {"r": r, "s": s, "site": _pick(rng, SITES), "place": _pick(rng, PLACES)}
        extra = f"此事群众反映已有{rng.randint(2, 9)}年。" if rng.random() < 0.5 else ""
        out.append((titles[k].format(**fill), bodies[k].format(**fill) + extra))
    return out


def fraud(n: int, seed: int = 2) -> list[tuple[str, str]]:
    """Proposals about telecom fraud crackdown and anti-fraud publicity: 刑侦."""
    rng = random.Random(seed)
    kinds = ["刷单返利", "冒充客服", "虚假投资理财", "冒充公检法", "网络贷款", "杀猪盘", "养老诈骗"]
    titles = [
        "关于加大{k}类电信网络诈骗打击力度的建议",
        "关于在{place}开展反诈宣传的建议",
        "关于防范{k}诈骗保护群众财产的建议",
        "关于严厉打击{k}诈骗犯罪的建议",
    ]
    bodies = [
        "{place}今年发生{k}类电信网络诈骗案件{x}起，群众损失惨重，建议公安机关加大打击力度，严惩诈骗团伙，追赃挽损。",
        "{k}等诈骗手法不断翻新，老年人和学生容易上当，建议公安机关在{place}开展反诈宣传进社区、进校园，推广国家反诈中心APP。",
        "不法分子以{k}为名实施诈骗，{place}多名群众被骗，建议公安机关加强预警劝阻，及时止付冻结，依法打击诈骗犯罪。",
        "{k}诈骗团伙跨境作案，危害极大，建议公安机关严厉打击，深挖幕后团伙，提高电信网络诈骗案件破案率。",
    ]
    out = []
    for i in range(n):
        k = i % len(titles)
        fill = {"k": _pick(rng, kinds), "place": _pick(rng, PLACES), "x": rng.randint(20, 400)}
        out.append((titles[k].format(**fill), bodies[k].format(**fill)))
    return out


def traffic(n: int, seed: int = 3) -> list[tuple[str, str]]:
    """Traffic proposals of several kinds (signals, congestion, parking, school gates...)."""
    rng = random.Random(seed)
    titles = [
        "关于缓解{r}交通拥堵的建议",
        "关于整治{site}周边违停的建议",
        "关于规范{place}电动自行车通行秩序的建议",
        "关于{r}增设信号灯的建议",
        "关于加强{site}门口上下学交通疏导的建议",
        "关于严查{place}酒驾醉驾的建议",
        "关于加强{r}渣土车管理的建议",
        "关于完善{r}交通标志标线的建议",
    ]
    bodies = [
        "{r}早晚高峰拥堵严重，建议交警部门优化交通组织，加强路口疏导，做好疏堵保畅。",
        "{site}周边车辆乱停乱放，占用车道，建议交警部门加强违停治理，增设违停抓拍设备。",
        "{place}电动自行车闯红灯、逆行、不戴头盔现象突出，建议交警部门加强查处。",
        "{r}与{s}交叉口没有信号灯，车辆抢行，建议交警部门增设信号灯。",
        "{site}门口上下学时段家长车辆拥堵，建议交警部门安排警力加强疏导。",
        "{place}夜间酒驾醉驾时有发生，建议交警部门增加夜查频次，严厉查处。",
        "{r}渣土车超速、闯红灯、抛洒滴漏，建议交警部门加强路面管控。",
        "{r}标志标线模糊不清，车辆随意变道掉头，建议交警部门重新施划标线，增设标志。",
    ]
    out = []
    for i in range(n):
        r, s = rng.sample(ROADS, 2)
        k = i % len(titles)
        fill = {"r": r, "s": s, "site": _pick(rng, SITES), "place": _pick(rng, PLACES)}
        tail = f"（第{i + 1}件）" if rng.random() < 0.3 else ""
        out.append((titles[k].format(**fill) + tail, bodies[k].format(**fill)))
    return out


def honest(n: int, seed: int = 4) -> list[tuple[str, str, str]]:
    """Correctly decided proposals across the units: (title, content, unit)."""
    rng = random.Random(seed)
    templates = [
        ("关于{r}增设信号灯的建议", "{r}与{s}路口没有信号灯，建议交警部门增设信号灯。", "交通管理"),
        ("关于治理{site}周边违停的建议", "{site}周边违停严重，建议交警加强违停治理。", "交通管理"),
        (
            "关于打击{place}电信诈骗的建议",
            "{place}电信网络诈骗多发，建议公安机关严厉打击诈骗犯罪，加强反诈宣传。",
            "刑侦",
        ),
        (
            "关于侦破{place}电动车盗窃案的建议",
            "{place}电动车被盗案件多，建议刑侦部门加大侦破力度。",
            "刑侦",
        ),
        (
            "关于整治{place}网络谣言的建议",
            "{place}有自媒体传播网络谣言，建议网安部门依法查处。",
            "网安",
        ),
        (
            "关于{place}增设视频监控的建议",
            "{place}老旧小区没有监控探头，建议推进雪亮工程，增设视频监控。",
            "治安",
        ),
        (
            "关于{place}文明养犬的建议",
            "{place}遛狗不拴绳现象多，建议公安机关加强养犬登记管理。",
            "治安",
        ),
        (
            "关于{place}派出所警力不足的建议",
            "{place}派出所警力严重不足，建议增加警力配置。",
            "人事",
        ),
        (
            "关于{place}新生儿入户的建议",
            "{place}新生儿入户手续繁琐，建议简化户口登记，实现一网通办。",
            "政务服务",
        ),
        (
            "关于提高{place}辅警待遇的建议",
            "{place}辅警工资偏低，建议提高辅警工资待遇，足额缴纳社保。",
            "辅警",
        ),
    ]
    out = []
    for i in range(n):
        t, c, unit = templates[i % len(templates)]
        r, s = rng.sample(ROADS, 2)
        fill = {"r": r, "s": s, "site": _pick(rng, SITES), "place": _pick(rng, PLACES)}
        out.append((t.format(**fill), c.format(**fill), unit))
    return out


def resubmitted(corpus: Any, unit: str, keyword: str, n: int) -> list[tuple[str, str]]:
    """Corpus proposals of ``unit`` mentioning ``keyword``, submitted again with one more
    sentence: near-identical texts whose corpus label a poisoned decision contradicts."""
    rows = corpus[(corpus["label"] == unit) & corpus["content"].str.contains(keyword)]
    return [
        (str(t), f"{c}此建议上届也曾提出，至今未见改善。")
        for t, c in zip(rows["title"].head(n), rows["content"].head(n), strict=True)
    ]
