"""A policy as chanye holds it: the file's facts, and every CEL expression parsed and checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from chanye.policy.cel import Node
from chanye.policy.fields import field_spec


@dataclass
class Condition:
    id: str
    text: str  # the clause it encodes, shown in explanations
    when: str  # the CEL source
    node: Node


@dataclass
class Policy:
    id: str
    title: str
    issuer: str
    valid_from: dt.date
    valid_to: dt.date
    parameters: dict[str, Any]
    conditions: list[Condition]
    amount: Node | None = None
    amount_text: str | None = None
    document: str | None = None
    exclusive_group: str | None = None  # no double benefit within a group: the higher amount
    source_name: str = ""
    source_text: str = ""
    cap_group: tuple[str, float] | None = (
        None  # (group, yuan): all its policies together, per enterprise
    )
    extra: dict[str, Any] = field(default_factory=dict)
    _fields_read: tuple[str, ...] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_to

    def not_in_force(self, day: dt.date) -> str | None:
        """Why the policy matches nobody on ``day`` (None: it is in force then)."""
        if self.valid_on(day):
            return None
        when = "尚未施行" if day < self.valid_from else "已失效"
        return (
            f"政策 {self.id}（{self.title}）在 {day} {when}（有效期 {self.valid_from} 至 "
            f"{self.valid_to}），无企业符合 / not in force on {day}"
        )

    def fields_read(self) -> list[str]:
        """The enterprise fields the policy reads (worked out once: every explanation asks)."""
        if self._fields_read is None:
            names: list[str] = []
            for condition in self.conditions:
                names += condition.node.fields()
            if self.amount is not None:
                names += self.amount.fields()
            self._fields_read = tuple(dict.fromkeys(names))
        return list(self._fields_read)

    @property
    def without_application(self) -> bool:
        """免申 when every field the policy reads is held by the platform; otherwise 快申."""
        return all(field_spec(name).held for name in self.fields_read())

    @property
    def mode_label(self) -> str:
        return "免申即享" if self.without_application else "快申（需补充材料）"
