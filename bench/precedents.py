"""Precedents: how long POST /api/v1/precedents takes on a ledger of N proposals.

    .venv/bin/python bench/precedents.py [--rows 5000]

Fills a SQLite ledger with corpus texts (resampled when N exceeds the corpus), decides half,
then times ``router.ledger.desk.similar`` as the endpoint calls it (past decided ones, then
the same session): the first call (every text segmented once, then cached) and later calls.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from _common import CORPUS, report

from router.db import make_engine, make_sessionmaker, upgrade
from router.ledger.desk import _doc, similar
from router.ledger.models import Proposal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    corpus = pd.read_csv(CORPUS, dtype=str, keep_default_na=False)
    rows = corpus.sample(n=args.rows, replace=args.rows > len(corpus), random_state=1)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC)
        with sessions() as db:
            for k, (title, content) in enumerate(zip(rows["title"], rows["content"], strict=True)):
                decided = k % 2 == 0
                db.add(
                    Proposal(
                        number=f"{k:05d}", session=f"十七届{k % 5 + 1}次", kind="建议",
                        deputy_name="", deputy_unit="", title=title, content=content,
                        suggested_unit="治安", suggested_confidence=0.9,
                        suggested_jurisdiction="police", needs_review=False, model_version="b",
                        suggestion={}, lead_unit="治安" if decided else None, co_units=[],
                        referral_departments=[], decided_at=now if decided else None,
                        status="已分办" if decided else "待分办", created_by="bench",
                        created_at=now, updated_at=now,
                    )
                )  # fmt: skip
            db.commit()
        probe = corpus.iloc[0]
        figures: dict[str, float] = {"rows": args.rows}
        with sessions() as db:
            for name in ("first_call_s", "second_call_s", "third_call_s"):
                start = time.perf_counter()
                similar(db, probe["title"], probe["content"], decided_only=True, limit=5)
                similar(db, probe["title"], probe["content"], session="十七届1次",
                        same_session=True, limit=5, min_score=0.3)  # fmt: skip
                figures[name] = round(time.perf_counter() - start, 3)
        figures["cached_texts"] = _doc.cache_info().currsize
        engine.dispose()
    with report("precedents"):
        for key, value in figures.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
