"""What changes between two models, and where a change came from.

``diff_models`` routes the same items with two models and counts the unit → unit moves (with
example titles) on each item set: the frozen evaluation set, the behaviour suite and the
ledger's recent proposals. ``provenance`` says which training decisions taught each move (who
decided them, which file they came from), and ``contradictions`` finds decisions that give a
near-identical text of the corpus another label. ``shift_problems`` applies the shift limits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from router.core.routing import Router, route_many
from router.core.suggestion import Decision
from router.learn.behaviour import answer

Item = tuple[str, str]  # (title, content)
EXAMPLES_PER_MOVE = 3


@dataclass
class Driver:
    """A source of training decisions that teach one move."""

    origin: str  # "分办人员 张三", "文件 往届台帐.xlsx"
    count: int


@dataclass
class Move:
    """Items one model gives ``source`` and the other ``target``."""

    source: str
    target: str
    count: int
    examples: list[str]
    drivers: list[Driver] = field(default_factory=list)
    single_source: bool = False  # most of its drivers come from one origin

    @property
    def name(self) -> str:
        return f"{self.source} → {self.target}"


@dataclass
class SetDiff:
    name: str
    n: int
    moved: int
    moves: list[Move]

    @property
    def share(self) -> float:
        return self.moved / self.n if self.n else 0.0


@dataclass
class ModelDiff:
    a: str
    b: str
    sets: list[SetDiff]

    def get(self, name: str) -> SetDiff | None:
        return next((s for s in self.sets if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "sets": [
                {**asdict(s), "share": s.share, "moves": [asdict(m) for m in s.moves]}
                for s in self.sets
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelDiff:
        sets = [
            SetDiff(
                s["name"],
                s["n"],
                s["moved"],
                [
                    Move(
                        m["source"],
                        m["target"],
                        m["count"],
                        list(m["examples"]),
                        [Driver(**d) for d in m.get("drivers", [])],
                        bool(m.get("single_source", False)),
                    )
                    for m in s["moves"]
                ],
            )
            for s in data["sets"]
        ]
        return cls(str(data["a"]), str(data["b"]), sets)


SET_NAMES = {"frozen": "冻结评估集", "behaviour": "行为测试集", "recent": "台帐近期建议"}


def answers(router: Router, items: Sequence[Item]) -> list[str]:
    """Each item's answer (unit, or the outside label); an item that cannot be routed is ''."""
    outside = router.labels.outside
    return [
        answer(d, outside) if isinstance(d, Decision) else ""
        for d in route_many(router, list(items))
    ]


def _label(item: Item) -> str:
    title, content = item
    return (title or content[:40]).strip()


def diff_set(name: str, items: Sequence[Item], a: Sequence[str], b: Sequence[str]) -> SetDiff:
    moves: dict[tuple[str, str], list[str]] = defaultdict(list)
    for item, x, y in zip(items, a, b, strict=True):
        if x != y:
            moves[(x, y)].append(_label(item))
    listed = [
        Move(src, dst, len(titles), titles[:EXAMPLES_PER_MOVE])
        for (src, dst), titles in moves.items()
    ]
    listed.sort(key=lambda m: (-m.count, m.source, m.target))
    return SetDiff(name, len(items), sum(m.count for m in listed), listed)


def diff_models(a: Router, b: Router, sets: dict[str, Sequence[Item]]) -> ModelDiff:
    """Route each item set with both models and count the moves."""
    return ModelDiff(
        a.version,
        b.version,
        [
            diff_set(name, items, answers(a, items), answers(b, items))
            for name, items in sets.items()
        ],
    )


# -- provenance ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Taught:
    """A training decision the serving model disagrees with: it teaches ``served`` → ``label``."""

    title: str
    label: str
    served: str
    origin: str


def taught_moves(
    items: Sequence[Item], labels: Sequence[str], origins: Sequence[str], served: Sequence[str]
) -> list[Taught]:
    return [
        Taught(_label(item), label, s, origin)
        for item, label, origin, s in zip(items, labels, origins, served, strict=True)
        if s and s != label
    ]


def taught_table(taught: Sequence[Taught]) -> list[Move]:
    """The decisions that overrule the serving model, as moves with their drivers."""
    groups: dict[tuple[str, str], list[Taught]] = defaultdict(list)
    for t in taught:
        groups[(t.served, t.label)].append(t)
    moves = [
        Move(
            src,
            dst,
            len(ts),
            [t.title for t in ts[:EXAMPLES_PER_MOVE]],
            _drivers(ts),
        )
        for (src, dst), ts in groups.items()
    ]
    moves.sort(key=lambda m: (-m.count, m.source, m.target))
    return moves


def _drivers(ts: Sequence[Taught]) -> list[Driver]:
    return [Driver(o, n) for o, n in Counter(t.origin for t in ts).most_common()]


def attach_drivers(
    diff: SetDiff, taught: Sequence[Taught], single_share: float, single_min: int
) -> None:
    """Name, for each move of a set, the decisions that teach it and flag a single source.

    A move A → B is taught by training decisions labelled B that the serving model answers A.
    It is carried mostly by one source when one origin gives at least ``single_share`` of
    them and at least ``single_min`` decisions.
    """
    by_move: dict[tuple[str, str], list[Taught]] = defaultdict(list)
    for t in taught:
        by_move[(t.served, t.label)].append(t)
    for move in diff.moves:
        ts = by_move.get((move.source, move.target), [])
        move.drivers = _drivers(ts)
        move.single_source = single_source(move.drivers, single_share, single_min)


def single_source(drivers: Sequence[Driver], share: float, minimum: int) -> bool:
    total = sum(d.count for d in drivers)
    return bool(drivers) and drivers[0].count >= minimum and drivers[0].count >= share * total


# -- contradictions -----------------------------------------------------------------------
@dataclass(frozen=True)
class Contradiction:
    title: str
    label: str
    origin: str
    corpus_title: str
    corpus_label: str
    similarity: float


def contradictions(
    new: Sequence[Item],
    new_labels: Sequence[str],
    new_origins: Sequence[str],
    corpus: Sequence[Item],
    corpus_labels: Sequence[str],
    threshold: float,
) -> list[Contradiction]:
    """Decisions whose text is near-identical to a corpus text that has another label.

    Near-identical: cosine similarity of character 2-3-gram TF-IDF vectors at least
    ``threshold`` (1.0 is the same text after normalisation).
    """
    if not new or not corpus:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer

    from router.core.text import prepare

    texts_new = [prepare(t, c) for t, c in new]
    texts_corpus = [prepare(t, c) for t, c in corpus]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True)
    vec.fit(texts_corpus + texts_new)
    x_new, x_corpus = vec.transform(texts_new), vec.transform(texts_corpus)
    found: list[Contradiction] = []
    step = 512
    for start in range(0, x_new.shape[0], step):
        sims = (x_new[start : start + step] @ x_corpus.T).toarray()
        for i, row in enumerate(sims, start):
            for j in row.argsort()[::-1][:5]:
                if row[j] < threshold:
                    break
                if corpus_labels[j] != new_labels[i]:
                    found.append(
                        Contradiction(
                            _label(new[i]),
                            new_labels[i],
                            new_origins[i],
                            _label(corpus[j]),
                            corpus_labels[j],
                            float(row[j]),
                        )
                    )
                    break
    return found


# -- the limits ---------------------------------------------------------------------------
def shift_problems(frozen: SetDiff, max_share: float, max_move: int) -> list[str]:
    """Why a candidate's shift on the frozen set needs a person, in Chinese; [] when none."""
    problems = []
    if frozen.share > max_share:
        problems.append(
            f"冻结评估集有 {frozen.moved} 条（{frozen.share:.1%}）改判，超过上限 {max_share:.1%}"
        )
    for m in frozen.moves:
        if m.count > max_move:
            problems.append(f"冻结评估集中 {m.name} 改判 {m.count} 条，超过单项上限 {max_move} 条")
    return problems
