"""The label set: the seven handling units, the outside label and the outside departments.

Kept as data (``resources/units.yaml``) so that a renamed or merged unit is a data change with
an alias, not a code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from router import yamltext


@dataclass(frozen=True)
class Unit:
    label: str
    unit: str
    handles: str


@dataclass(frozen=True)
class LabelSet:
    version: int
    outside: str
    units: tuple[Unit, ...]
    departments: dict[str, str]
    aliases: dict[str, str]

    @property
    def unit_labels(self) -> tuple[str, ...]:
        return tuple(u.label for u in self.units)

    @property
    def classes(self) -> tuple[str, ...]:
        """What the classifier predicts: the seven units plus the outside label."""
        return (*self.unit_labels, self.outside)

    def canonical(self, label: str) -> str:
        """Map an old name, an alias or a unit's full name to the current label; unknown raises."""
        label = label.strip()
        label = self.aliases.get(label, label)
        label = next((u.label for u in self.units if u.unit == label), label)
        if label not in self.classes:
            raise ValueError(f"未知的承办单位：{label}")
        return label


def parse_label_set(data: dict[str, Any]) -> LabelSet:
    return LabelSet(
        version=int(data["version"]),
        outside=str(data["outside_label"]),
        units=tuple(
            Unit(str(u["label"]), str(u["unit"]), str(u["handles"])) for u in data["units"]
        ),
        departments={str(k): str(v) for k, v in data["departments"].items()},
        aliases={str(k): str(v) for k, v in (data.get("aliases") or {}).items()},
    )


@cache
def load_labels() -> LabelSet:
    raw = resources.files("router").joinpath("resources/units.yaml").read_text(encoding="utf-8")
    return parse_label_set(yamltext.safe_load(raw))
