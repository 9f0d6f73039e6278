"""The one text pipeline: normalise, then segment with a domain dictionary.

Training and serving both call :func:`prepare` and :func:`tokenize` (serving through
:mod:`router.core.scorer`, which folds :func:`tokenize`'s filter into its vocabulary lookup).

Segmentation uses jieba's algorithm without the HMM step. The default backend is ``rjieba``
(a Rust port, same dictionary, about twenty times faster); ``jieba`` itself is kept as the
reference, and a parity test proves both give identical tokens on the whole corpus.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources

_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\u3000\xa0]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_KEEP = re.compile(r"[\u4e00-\u9fff]|[a-z]{2,}|[0-9]")
_DIGITS = re.compile(r"^[0-9.]+$")

BACKENDS = ("rjieba", "jieba", "jieba-hmm")
_lock = threading.Lock()
_cutters: dict[str, Callable[[str], Iterable[str]]] = {}


# Blocks holding the compatibility characters that real texts use (full-width forms,
# punctuation, circled and Roman numerals, units, small and vertical forms).
_FOLD_BLOCKS = ((0x00A0, 0x00FF), (0x2000, 0x24FF), (0x3000, 0x33FF), (0xFE10, 0xFFEE))


@cache
def _fold_table() -> dict[int, str]:
    """Each character of those blocks that NFKD changes, mapped to its NFKD form.

    Replacing characters by their NFKD forms leaves the NFKD (hence the NFKC) of the whole
    text unchanged, so ``NFKC(text.translate(table)) == NFKC(text)`` for any text; after the
    translation NFKC's quick check usually passes, which makes it about twice as fast.
    """
    table = {}
    for lo, hi in _FOLD_BLOCKS:
        for code in range(lo, hi + 1):
            folded = unicodedata.normalize("NFKD", chr(code))
            if folded != chr(code):
                table[code] = folded
    return table


# CJK punctuation that NFKC leaves alone, folded to one form so that 。 and . read alike.
_PUNCT = str.maketrans(
    {"。": ".", "、": ",", "“": '"', "”": '"', "‘": "'", "’": "'", "【": "[", "】": "]"}
)


_PUNCT_CHARS = re.compile("[" + "".join(map(chr, _PUNCT)) + "]")


@cache
def _folder() -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every character to fold or unify, and what each becomes.

    A regular expression that visits only those characters is about four times faster than
    two ``str.translate`` passes over every character of the text.
    """
    replace = {chr(c): folded.translate(_PUNCT) for c, folded in _fold_table().items()}
    replace.update({chr(c): str(to) for c, to in _PUNCT.items()})
    pattern = re.compile("[" + "".join(re.escape(c) for c in sorted(replace)) + "]")
    return pattern, replace


# The punctuation of nearly every Chinese text: replaced in one C pass each, before the
# pattern finds what is left (each replacement is final: NFKD forms and ASCII never fold again).
_COMMON = "，。、？！：“”（）；"


_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL_IN_LINE = re.compile("[\u0000-\u001f\u007f-\u009f]")
_CONTROL_IN_TEXT = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]")


def clean_text(value: str, *, multiline: bool = True, fold: bool = False) -> str:
    """The one boundary for text that reaches the database or a reply: no lone surrogates
    (ValueError: no database stores one and no JSON reply can carry one), no NUL or other
    control characters (line breaks and tabs kept in ``multiline`` text), and with ``fold``
    NFKC-folded.

    Lengths are checked on what this returns, so that a text which grows under NFKC (a
    ligature, a squared abbreviation) is measured as it will be stored. Keys (编号, 届次,
    units) are folded; a deputy's own words are not, as NFKC would turn their full-width
    punctuation (，。（）) into ASCII.
    """
    if _SURROGATE.search(value):
        raise ValueError("含有无法识别的字符（不成对的 UTF-16 代理项），请检查后重新输入")
    value = (_CONTROL_IN_TEXT if multiline else _CONTROL_IN_LINE).sub("", value)
    return unicodedata.normalize("NFKC", value) if fold else value


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), one form of punctuation, no control characters."""
    pattern, replace = _folder()
    for ch in _COMMON:
        if ch in text:
            text = text.replace(ch, replace[ch])
    text = unicodedata.normalize("NFKC", pattern.sub(lambda m: replace[m.group()], text))
    if _PUNCT_CHARS.search(text):  # NFKC made one of them from a character outside the table
        text = text.translate(_PUNCT)
    text = _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n", text)
    return text.strip()


def prepare(title: str | None, content: str | None) -> str:
    """Join a title and a body into the single normalised text the model reads."""
    parts = [normalize(p) for p in (title, content) if p]
    return "\n".join(p for p in parts if p)


def _resource_lines(name: str) -> list[str]:
    raw = resources.files("router").joinpath("resources", name).read_text(encoding="utf-8")
    return [ln.strip() for ln in raw.splitlines() if ln.strip() and not ln.startswith("#")]


@cache
def user_dictionary() -> tuple[tuple[str, int], ...]:
    """The domain dictionary as (word, frequency) pairs."""
    entries = []
    for line in _resource_lines("user_dict.txt"):
        word, freq = line.split()
        entries.append((word, int(freq)))
    return tuple(entries)


@cache
def stopwords() -> frozenset[str]:
    return frozenset(_resource_lines("stopwords.txt"))


def _make_cutter(backend: str) -> Callable[[str], Iterable[str]]:
    if backend == "rjieba":
        # The package's own instance, which importing it builds (a tenth of a second and
        # its own copy of the dictionary): a second one cost as much again. add_word
        # replaces a word's count, so adding the dictionary twice changes nothing.
        import rjieba

        for word, freq in user_dictionary():
            rjieba.add_word(word, freq, None)
        cut = rjieba.cut
        return lambda s: cut(s, False)
    if backend in ("jieba", "jieba-hmm"):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        tk = jieba.Tokenizer()
        tk.initialize()
        for word, freq in user_dictionary():
            old = tk.FREQ.get(word) or 0
            tk.add_word(word, freq)
            tk.total -= old  # a re-weighted word replaces its old count, as in rjieba
        hmm = backend == "jieba-hmm"  # kept only to measure whether HMM helps accuracy
        return lambda s: tk.cut(s, HMM=hmm)
    raise ValueError(f"unknown segmentation backend {backend!r}; choose one of {BACKENDS}")


def default_backend() -> str:
    return os.environ.get("ROUTER_SEGMENTER", "rjieba")


def init(backend: str | None = None) -> None:
    """Load the dictionary now (before workers fork) rather than on the first request."""
    _cutter(backend or default_backend())


def _cutter(backend: str) -> Callable[[str], Iterable[str]]:
    cut = _cutters.get(backend)
    if cut is None:
        with _lock:
            cut = _cutters.get(backend)
            if cut is None:
                cut = _cutters[backend] = _make_cutter(backend)
    return cut


def segment(text: str, backend: str | None = None) -> list[str]:
    """Raw segmentation of already normalised text, every token kept."""
    return list(_cutter(backend or default_backend())(text))


class _Kept(dict[str, bool]):
    """Token -> whether :func:`tokenize` keeps it; computed once per token, bounded in size."""

    def __missing__(self, tok: str) -> bool:
        keep = not (tok in stopwords() or not _KEEP.search(tok) or _DIGITS.match(tok))
        if len(self) >= 200_000:
            self.clear()
        self[tok] = keep
        return keep


_kept = _Kept()


def tokenize(text: str) -> list[str]:
    """Content tokens of normalised text: no punctuation, stop words or bare numbers."""
    return list(filter(_kept.__getitem__, raw_tokens(text)))


def raw_tokens(text: str) -> list[str]:
    """Every token :func:`tokenize` looks at, before it drops any (see :func:`kept`)."""
    return list(_cutter(default_backend())(text.lower()))


def kept(token: str) -> bool:
    """Whether :func:`tokenize` keeps a token of :func:`raw_tokens`."""
    return _kept[token]
