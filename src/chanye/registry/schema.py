"""The enterprise record as files bring it: the headers an import accepts, tags and statuses.

The fields themselves are the catalogue's (``chanye.registry.fields``, shown in docs/registry.md);
here are the fields an import file may carry. Money is in yuan; a header may carry a unit
(``营业收入（万元）``) and values are then converted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chanye.registry.fields import CATALOGUE, ImportKind

FieldKind = ImportKind


@dataclass(frozen=True)
class FieldSpec:
    """A field an import file may carry (derived from the catalogue)."""

    name: str
    label: str  # Chinese label for messages and exports
    kind: FieldKind
    headers: tuple[str, ...]  # accepted header names besides ``name`` itself
    required: bool = False


FIELDS: tuple[FieldSpec, ...] = tuple(
    FieldSpec(f.name, f.label, f.imported, f.headers, f.required)
    for f in CATALOGUE
    if f.imported is not None
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
MONEY_FIELDS = tuple(f.name for f in FIELDS if f.kind == "money")

TAG_LABELS: dict[str, tuple[str, ...]] = {
    "above_scale": ("规上企业", "规模以上企业"),
    "high_tech": ("高新技术企业",),
    "specialized_sme": ("专精特新中小企业", "专精特新企业"),
    "little_giant": ('专精特新"小巨人"企业', "专精特新“小巨人”企业", "小巨人企业", "小巨人"),
    "single_champion": ("制造业单项冠军企业", "单项冠军企业"),
    "unicorn": ("独角兽企业",),
    "listed": ("上市企业", "上市公司"),
    "chain_leader": ("链主企业",),
}
TAG_IDS = tuple(TAG_LABELS)
TAG_SEPARATORS = r"[;；、,，]"

STATUS_LABELS: dict[str, tuple[str, ...]] = {
    "active": ("active", "存续", "在业", "开业", "存续（在营、开业、在册）"),
    "closed": ("closed", "注销", "吊销", "吊销，未注销", "撤销", "迁出"),
}

# Multipliers to yuan for the units a money header may carry.
UNITS_TO_YUAN: dict[str, float] = {
    "元": 1.0,
    "人民币元": 1.0,
    "yuan": 1.0,
    "千元": 1e3,
    "千": 1e3,
    "万元": 1e4,
    "万": 1e4,
    "10kyuan": 1e4,
    "亿元": 1e8,
    "亿": 1e8,
    "100myuan": 1e8,
}

_UNIT_IN_HEADER = re.compile(r"^(?P<base>.*?)[(（](?P<unit>[^)）]*)[)）]\s*$")


@dataclass(frozen=True)
class HeaderMatch:
    field: str
    unit: float = 1.0  # multiplier to yuan, for money fields


def normalise_header(header: str) -> str:
    return re.sub(r"\s+", "", header).replace("\ufeff", "").lower()


_HEADER_INDEX: dict[str, str] = {
    normalise_header(alias): spec.name for spec in FIELDS for alias in (spec.name, *spec.headers)
}


def match_header(header: str) -> HeaderMatch | None:
    """The field a column header stands for, with its money unit; None for an unknown header."""
    text = normalise_header(str(header))
    unit = 1.0
    found = _UNIT_IN_HEADER.match(text)
    if found and found.group("unit") in UNITS_TO_YUAN:
        text, unit = found.group("base"), UNITS_TO_YUAN[found.group("unit")]
    field = _HEADER_INDEX.get(text)
    if field is None:
        return None
    return HeaderMatch(field, unit if field in MONEY_FIELDS else 1.0)


def tag_lookup() -> dict[str, str]:
    """Every accepted tag spelling (id or Chinese label) → tag id."""
    lookup = {tag: tag for tag in TAG_IDS}
    for tag, labels in TAG_LABELS.items():
        lookup.update(dict.fromkeys(labels, tag))
    return lookup


def status_lookup() -> dict[str, str]:
    return {label: status for status, labels in STATUS_LABELS.items() for label in labels}
