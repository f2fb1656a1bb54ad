"""What a policy may read about an enterprise: the fields, their CEL types and labels.

A view of the registry's field catalogue (``chanye.registry.fields``): the fields with a CEL type,
held ones and derived ones, plus fields the platform does not hold yet. A policy that reads one of
those cannot be paid without application (it is 快申, not 免申), and every enterprise is "needs
data" (待补充) for it until the data arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

from chanye.registry.fields import CATALOGUE, CelType
from chanye.units import format_percent, format_yuan

__all__ = [
    "FIELDS",
    "FIELD_BY_NAME",
    "REGISTRY_COLUMNS",
    "CelType",
    "EnterpriseField",
    "field_spec",
    "known_fields_text",
    "label_of",
    "plain_value",
]


@dataclass(frozen=True)
class EnterpriseField:
    name: str
    type: CelType
    label: str  # with its unit, as pages and explanations show it (``营业收入（元）``)
    held: bool = True  # False: not in the registry (an applicant must supply it)
    derived: bool = False
    unit: str | None = None  # 元 for money (shown in 万元 / 亿元)


FIELDS: tuple[EnterpriseField, ...] = tuple(
    EnterpriseField(f.name, f.cel, f.labelled, f.held, f.derived, f.unit)
    for f in CATALOGUE
    if f.cel is not None
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
# The snapshot columns policies read (the held fields stored as they are, and the row's change).
REGISTRY_COLUMNS = (
    *(f.name for f in CATALOGUE if f.cel is not None and f.storage is not None),
    "change_id",
)


def field_spec(name: str) -> EnterpriseField:
    """The field ``name`` names: one of the catalogue's, or a call of a history function
    (``prior:revenue:1``, ``chanye.policy.history``) with its type and Chinese label."""
    found = FIELD_BY_NAME.get(name)
    if found is not None:
        return found
    if name.startswith(("application:", "item:")):  # supplied by an applicant: never held
        _prefix, kind, field_id = name.split(":", 2)
        money = kind == "money"
        return EnterpriseField(
            name, APPLICATION_TYPES[kind], field_id, held=False, unit="元" if money else None
        )
    from chanye.policy.history import HistoryField

    call = HistoryField.parse(name)
    if call is None:
        raise KeyError(name)
    unit = (
        None
        if call.indicator is None or call.function == "growth"
        else FIELD_BY_NAME[call.indicator].unit
    )
    return EnterpriseField(name, call.type, call.label, held=True, derived=True, unit=unit)


# What an applicant may be asked for (``application`` in a policy file), and how CEL sees it.
APPLICATION_TYPES: dict[str, CelType] = {
    "money": "double",
    "number": "double",
    "integer": "int",
    "text": "string",
    "yes_no": "bool",
}
RATES = ("rd_ratio",)  # fields that are shares, shown as percentages


def plain_value(name: str, value: object) -> str:
    """A value as people read it: money in 万元 / 亿元, rates and growth as percentages, yes or
    no in Chinese, 缺失 for a missing one."""
    if value is None:
        return "缺失"
    try:
        spec = field_spec(name)
    except KeyError:
        return str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float) and (name in RATES or name.startswith("growth:")):
        return format_percent(float(value), 2)
    if isinstance(value, int | float) and spec.unit == "元":
        return format_yuan(float(value))
    return str(value)


def label_of(name: str) -> str:
    """A field's label as pages show it; the name itself for anything else."""
    try:
        return field_spec(name).label
    except KeyError:
        return name


def known_fields_text() -> str:
    return ", ".join(f.name for f in FIELDS)
