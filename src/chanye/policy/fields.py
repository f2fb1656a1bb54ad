"""What a policy may read about an enterprise: the fields, their CEL types and labels.

A view of the registry's field catalogue (``chanye.registry.fields``): the fields with a CEL type,
held ones and derived ones, plus fields the platform does not hold yet. A policy that reads one of
those cannot be paid without application (it is 快申, not 免申), and every enterprise is "needs
data" (待补充) for it until the data arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

from chanye.registry.fields import CATALOGUE, CelType

__all__ = [
    "FIELDS",
    "FIELD_BY_NAME",
    "REGISTRY_COLUMNS",
    "CelType",
    "EnterpriseField",
    "known_fields_text",
]


@dataclass(frozen=True)
class EnterpriseField:
    name: str
    type: CelType
    label: str  # with its unit, as pages and explanations show it (``营业收入（元）``)
    held: bool = True  # False: not in the registry (an applicant must supply it)
    derived: bool = False


FIELDS: tuple[EnterpriseField, ...] = tuple(
    EnterpriseField(f.name, f.cel, f.labelled, f.held, f.derived)
    for f in CATALOGUE
    if f.cel is not None
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
# The snapshot columns policies read (the held fields stored as they are, and the row's change).
REGISTRY_COLUMNS = (
    *(f.name for f in CATALOGUE if f.cel is not None and f.storage is not None),
    "change_id",
)


def known_fields_text() -> str:
    return ", ".join(f.name for f in FIELDS)
