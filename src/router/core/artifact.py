"""The scorer's file (``model.npz``): plain arrays written and read back, every shape checked.

No pickle: a damaged or hostile file cannot run code, and one that loads has arrays whose
shapes agree, so it fails here rather than on a request.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from scipy import sparse

from router.core.scorer import Part, Scorer, ScorerError

FORMAT = 1


def save(scorer: Scorer, path: Path) -> None:
    """Write a scorer as plain arrays in one compressed ``.npz`` file."""
    meta = {
        "format": FORMAT,
        "classes": list(scorer.classes),
        "departments": list(scorer.departments),
        "parts": [
            {
                "kind": p.kind,
                "lo": p.lo,
                "hi": p.hi,
                "sublinear": p.sublinear,
                "lowercase": p.lowercase,
            }
            for p in scorer.parts
        ],
        "sigmoid": scorer.sigmoid is not None,
    }
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), np.uint8),
        "tokens": np.frombuffer("\n".join(scorer.tokens).encode(), np.uint8),
        "weights": scorer.weights,
        "intercept": scorer.intercept,
        "dept_rows": scorer.dept_rows,
        "dept_weights": scorer.dept_weights,
        "dept_intercept": np.asarray(scorer.dept_intercept, dtype=np.float64),
    }
    for i, p in enumerate(scorer.parts):
        arrays[f"keys{i}"] = p.keys
        arrays[f"idf{i}"] = p.idf
    if scorer.sigmoid is not None:
        arrays["sigmoid_a"], arrays["sigmoid_b"] = scorer.sigmoid
    if scorer.reference is not None:
        ref = scorer.reference
        arrays["ref_data"] = ref.data.astype(np.float32)
        arrays["ref_indices"] = ref.indices.astype(np.int32)
        arrays["ref_indptr"] = ref.indptr.astype(np.int64)
    with path.open("wb") as fh:
        np.savez_compressed(fh, allow_pickle=False, **arrays)


def load(source: Path | bytes) -> Scorer:
    """Read a scorer file (or its bytes, as checksummed); plain arrays only, so a damaged
    or hostile file cannot run code, and every shape is checked before it serves."""
    try:
        with (
            io.BytesIO(source) if isinstance(source, bytes) else source.open("rb") as fh,
            np.load(fh, allow_pickle=False) as data,
        ):
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(arrays["meta"].tobytes().decode())
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ScorerError(f"unknown scorer format {meta.get('format')!r}")
        raw_tokens = arrays["tokens"].tobytes().decode()
        parts = [
            Part(
                kind=spec["kind"],
                lo=int(spec["lo"]),
                hi=int(spec["hi"]),
                keys=arrays[f"keys{i}"],
                idf=arrays[f"idf{i}"].astype(np.float64),
                sublinear=bool(spec["sublinear"]),
                lowercase=bool(spec["lowercase"]),
            )
            for i, spec in enumerate(meta["parts"])
        ]
        reference = None
        if "ref_indptr" in arrays:
            indptr = arrays["ref_indptr"]
            reference = sparse.csr_matrix(
                (arrays["ref_data"], arrays["ref_indices"], indptr),
                shape=(indptr.size - 1, sum(p.keys.size for p in parts if p.kind == "word")),
            )
        scorer = Scorer(
            classes=meta["classes"],
            tokens=raw_tokens.split("\n") if raw_tokens else [],
            parts=parts,
            weights=arrays["weights"],
            intercept=arrays["intercept"],
            sigmoid=(arrays["sigmoid_a"], arrays["sigmoid_b"]) if meta["sigmoid"] else None,
            departments=meta["departments"],
            dept_rows=arrays["dept_rows"],
            dept_weights=arrays["dept_weights"],
            dept_intercept=arrays["dept_intercept"],
            reference=reference,
        )
        _check(scorer)
        return scorer
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        zipfile.BadZipFile,
    ) as exc:
        name = "bytes" if isinstance(source, bytes) else source.name
        raise ScorerError(f"cannot read scorer {name}: {exc}") from exc


def _check(scorer: Scorer) -> None:
    """Every array the shape the others imply: a bad file fails here, not on a request."""
    c, d = len(scorer.classes), len(scorer.departments)
    bad = [p.kind for p in scorer.parts if p.idf.shape != p.keys.shape]
    if scorer.intercept.shape != (c,):
        bad.append("intercept")
    if scorer.sigmoid is not None and any(v.shape != (c,) for v in scorer.sigmoid):
        bad.append("sigmoid")
    rows = scorer.dept_rows
    if rows.size and (rows.min() < 0 or rows.max() >= scorer.n_features):
        bad.append("dept_rows")
    if scorer.dept_weights.shape != (rows.size, d) or np.shape(scorer.dept_intercept) != (d,):
        bad.append("departments")
    ref = scorer.reference
    if ref is not None and (
        ref.indptr[0] != 0
        or ref.indptr[-1] != ref.data.size
        or np.any(np.diff(ref.indptr) < 0)
        or ref.data.size != ref.indices.size
        or (ref.indices.size and (ref.indices.min() < 0 or ref.indices.max() >= ref.shape[1]))
    ):
        bad.append("reference")
    if bad:
        raise ScorerError(f"arrays of the wrong shape: {', '.join(bad)}")
