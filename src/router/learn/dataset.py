"""The labelled corpus: loading, validation and the fixed train/test split."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from router.core.text import prepare
from router.labels import LabelSet, load_labels

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("id", "title", "content", "unit", "co_units", "jurisdiction", "departments", "note")
JURISDICTIONS = ("police", "partial", "outside")


class CorpusError(ValueError):
    """The corpus file cannot be used as training data."""


def split_list(value: str) -> list[str]:
    return [v.strip() for v in str(value).split(";") if v.strip()]


def corpus_files(path: Path) -> list[Path]:
    """The corpus's files: one CSV, or every CSV of a folder (one file per register)."""
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise CorpusError(f"语料文件夹中没有 CSV 文件：{path}")
        return files
    if not path.is_file():
        raise CorpusError(f"找不到语料文件：{path}")
    return [path]


def _read_one(path: Path) -> pd.DataFrame:
    import pandas as pd  # not at import: the CLI's routing path imports CorpusError from here

    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise CorpusError(f"语料 {path.name} 缺少列：{', '.join(missing)}")
    df = df[list(COLUMNS)].copy()
    df["source"] = path.stem
    return df


def load_corpus(path: Path, labels: LabelSet | None = None) -> pd.DataFrame:
    """Read and validate the corpus (a CSV or a folder of them); adds ``source`` (the file),
    ``label`` (unit or outside) and ``text``."""
    labels = labels or load_labels()
    import pandas as pd

    df = pd.concat([_read_one(f) for f in corpus_files(path)], ignore_index=True)
    if df["id"].duplicated().any():
        raise CorpusError(f"语料编号重复：{sorted(set(df.loc[df['id'].duplicated(), 'id']))[:5]}")
    bad_j = sorted(set(df["jurisdiction"]) - set(JURISDICTIONS))
    if bad_j:
        raise CorpusError(f"未知的职责判定：{bad_j}")
    outside = df["jurisdiction"] == "outside"
    if (df.loc[outside, "unit"] != "").any():
        raise CorpusError("职责外（outside）的行不应有承办单位")
    bad_units = sorted(set(df.loc[~outside, "unit"]) - set(labels.unit_labels))
    if bad_units:
        raise CorpusError(f"未知的承办单位：{bad_units}")
    df["label"] = df["unit"].where(~outside, labels.outside)
    df["text"] = [prepare(t, c) for t, c in zip(df["title"], df["content"], strict=True)]
    if (df["text"] == "").any():
        raise CorpusError("语料中有标题和内容都为空的行")
    return df


def split_corpus(
    df: pd.DataFrame, seed: int, test_size: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The one fixed split: stratified by label, seeded, never tuned against."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(df, test_size=test_size, random_state=seed, stratify=df["label"])
    return train.reset_index(drop=True), test.reset_index(drop=True)
