"""The GB/T 4754-2017 national industry classification (国民经济行业分类), shipped as data.

Codes are 2 digits (division, 大类), 3 digits (group, 中类) or 4 digits (class, 小类). Groups that
hold a single class appear in the published list only through their class row, so a 3-digit code
is also valid when it prefixes a class.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

CATALOGUE_FILE = "gbt4754_2017.csv"


@dataclass(frozen=True, slots=True)
class IndustryCode:
    code: str
    name: str
    section: str

    @property
    def level(self) -> str:
        return {2: "division", 3: "group", 4: "class"}[len(self.code)]


@dataclass(frozen=True)
class IndustryCatalogue:
    codes: dict[str, IndustryCode]
    sections: dict[str, str]

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self.codes

    def get(self, code: str) -> IndustryCode | None:
        return self.codes.get(code)

    def name(self, code: str) -> str:
        entry = self.codes.get(code)
        return entry.name if entry else ""

    def classes(self) -> list[IndustryCode]:
        return [c for c in self.codes.values() if len(c.code) == 4]


@cache
def catalogue() -> IndustryCatalogue:
    """The shipped GB/T 4754-2017 list, read once per process."""
    text = resources.files("chanye.system").joinpath("data", CATALOGUE_FILE).read_text("utf-8")
    codes: dict[str, IndustryCode] = {}
    sections: dict[str, str] = {}
    for row in csv.DictReader(text.splitlines()):
        code = row["class"] or row["group"] or row["division"]
        if not code:
            sections[row["section"]] = row["name"]
            continue
        codes[code] = IndustryCode(code, row["name"].strip(), row["section"])
    for code in [c for c in codes if len(c) == 4]:
        # Single-class groups are listed only by their class: make the group code valid too.
        codes.setdefault(code[:3], IndustryCode(code[:3], codes[code].name, codes[code].section))
    return IndustryCatalogue(codes=codes, sections=sections)
