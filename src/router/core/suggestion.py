"""What a routing decision says: plain pydantic schemas, importable without the model.

The ledger and the API import these; nothing here loads numpy, the scorer or the rules.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Jurisdiction = Literal["police", "partial", "outside"]


class InputError(ValueError):
    """The text cannot be routed; the message is for the dispatcher (Chinese).

    ``kind`` says why, so that a caller can answer without measuring the text again.
    """

    def __init__(self, message: str, kind: Literal["empty", "too_long"] = "empty") -> None:
        super().__init__(message)
        self.kind = kind


class Scored(BaseModel):
    unit: str
    confidence: float


class EvidenceOut(BaseModel):
    word: str
    start: int = Field(description="Offset in the normalised text (title, newline, content).")
    end: int
    rule: str
    departments: list[str]


class OutsidePart(BaseModel):
    departments: list[str]
    part: str
    words: list[str]
    basis: Literal["rules", "model"] = Field(
        default="rules", description="Keyword evidence, or the department model alone."
    )


class Term(BaseModel):
    term: str
    weight: float


class LocalNote(BaseModel):
    """A topic whose handler differs between cities (本地职责), and what the bureau set."""

    topic: str
    name: str
    candidates: list[str]
    words: list[str]
    handler: str | None = Field(description="The bureau's own handler, when it has set one.")
    applied: bool = Field(default=False, description="The decision follows the local setting.")


class Decision(BaseModel):
    unit: str | None = Field(description="Lead unit; null when wholly outside police jurisdiction.")
    unit_name: str | None
    confidence: float
    alternatives: list[Scored]
    co_units: list[str]
    jurisdiction: Jurisdiction
    outside_probability: float
    departments: list[str]
    outside_parts: list[OutsidePart]
    evidence: list[EvidenceOut]
    local: LocalNote | None = None
    familiarity: float | None = Field(
        default=None, description="Largest similarity to a text the model was trained on."
    )
    needs_review: bool
    bulk_confirmable: bool = Field(
        default=False,
        description="Safe to confirm in bulk: at an operating point measured at least 97% right "
        "on real validation text (thresholds in resources/thresholds.yaml).",
    )
    review_reasons: list[str]
    top_terms: list[Term]
    model_version: str
