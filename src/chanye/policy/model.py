"""A policy as chanye holds it: the file's facts, and every CEL expression parsed and checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from chanye.policy.cel import Node
from chanye.policy.fields import APPLICATION_TYPES, CelType, field_spec, label_of

APPLICATION_PREFIX = "application:"
ITEM_PREFIX = "item:"
SUPPLIED_PREFIXES = (APPLICATION_PREFIX, ITEM_PREFIX)
MOST_ITEMS_DEFAULT = 20  # items one application may list, where the policy does not say
ITEMS_KEY = "items"  # where a record, and an application's values, hold the items (一对多)
APPLICATION_KIND_LABELS = {
    "money": "金额",
    "number": "数值",
    "integer": "整数",
    "text": "文本",
    "yes_no": "是/否",
}
MONEY_INPUT_UNITS = {"元": 1.0, "万元": 1e4, "亿元": 1e8}


@dataclass(frozen=True)
class ApplicationField:
    """A value the enterprise supplies when it applies (快申), declared in the policy file:
    the platform does not hold it, so staff verify it before anything is decided."""

    id: str
    label: str  # 新设备购置额
    kind: str  # one of APPLICATION_TYPES
    unit: str | None = None  # money: the unit people type (万元); stored in yuan
    help: str = ""  # what to enter and where it comes from
    attachments: tuple[str, ...] = ()  # what must be attached (发票清单, 购置合同)
    prefix: str = APPLICATION_PREFIX  # ITEM_PREFIX: a value of each item, read as item.<id>

    @property
    def cel_type(self) -> CelType:
        return APPLICATION_TYPES[self.kind]

    @property
    def field_name(self) -> str:
        """The name conditions read it by: ``application:money:equipment_spend`` (with its kind,
        so that the engines hold a column of unknowns of its type, and pages show money in 万元,
        without the policy at hand)."""
        return f"{self.prefix}{self.kind}:{self.id}"

    @property
    def labelled(self) -> str:
        return f"{self.label}（元）" if self.kind == "money" else self.label

    def input_factor(self) -> float:
        """Yuan per unit typed (money); 1 for everything else."""
        return MONEY_INPUT_UNITS.get(self.unit or "元", 1.0) if self.kind == "money" else 1.0


@dataclass(frozen=True)
class Items:
    """Items, one to many (单个项目): several projects, contracts or models in one application,
    each with the same declared fields, each decided by the conditions and amount that read
    ``item.<id>``; what the enterprise receives is the sum over the items that qualify."""

    label: str  # what one item is called: 技术改造项目
    fields: tuple[ApplicationField, ...]
    most: int = MOST_ITEMS_DEFAULT  # how many one application may list

    def field(self, field_id: str) -> ApplicationField | None:
        return next((f for f in self.fields if f.id == field_id), None)


def reads_item(node: Node) -> bool:
    return any(name.startswith(ITEM_PREFIX) for name in node.fields())


@dataclass
class Condition:
    id: str
    text: str  # the clause it encodes, shown in explanations
    when: str  # the CEL source
    node: Node
    line: int = field(default=0, compare=False)  # of ``when`` in the file, for its faults


@dataclass(frozen=True)
class PaymentLimits:
    """What the payout ledger (what was actually paid, and when) limits: 一次性, 每年累计,
    有效期内累计, 未获得同类补贴. Decided against payments, not against one run's pushes."""

    once: bool = False  # never paid under this policy before (any version)
    yearly_cap: float | None = None  # yuan paid under this policy in one calendar year
    total_cap: float | None = None  # yuan paid under this policy within its validity
    unless_paid: tuple[str, ...] = ()  # none paid by these policies or payment groups

    @property
    def any(self) -> bool:
        return bool(self.once or self.yearly_cap or self.total_cap or self.unless_paid)


@dataclass(frozen=True)
class Instalment:
    """One instalment of a benefit paid over several years (分期拨付): its share of the amount,
    how many years after the first it falls due, the clause it encodes, and (from the second
    on) the look-back that must still hold as of its due date (次年产值不低于上年)."""

    share: float  # of the amount: 0.6
    after_years: int = 0  # years after the first instalment (the first: 0)
    text: str = ""  # the clause: 次年拨付40%，须仍为规上企业
    when: str | None = None  # the CEL source of the look-back
    node: Node | None = None
    line: int = field(default=0, compare=False)  # of ``when`` in the file, for its faults


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
    application: tuple[ApplicationField, ...] = ()  # what an applicant supplies (快申)
    limits: PaymentLimits = field(default_factory=PaymentLimits)
    payment_group: str | None = None  # the kind of subsidy its payments count as (同类补贴)
    items: Items | None = None  # several items per application, each decided on its own
    schedule: tuple[Instalment, ...] = ()  # 分期拨付; empty: paid at once, in full
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
    def item_fields(self) -> tuple[ApplicationField, ...]:
        return self.items.fields if self.items else ()

    @property
    def supplied_fields(self) -> tuple[ApplicationField, ...]:
        """Every value the applicant supplies: the application's, then each item's."""
        return self.application + self.item_fields

    def application_field(self, name: str) -> ApplicationField | None:
        """The declared field a field name reads, of the application or of each item (None: an
        enterprise field)."""
        return next((a for a in self.supplied_fields if a.field_name == name), None)

    @property
    def amount_per_item(self) -> bool:
        """The amount reads an item's values: each qualifying item is paid, and they add up."""
        return self.amount is not None and reads_item(self.amount)

    def label_of(self, name: str) -> str:
        """A field's label as pages show it, the policy's own declarations included."""
        declared = self.application_field(name)
        return declared.labelled if declared else label_of(name)

    def reads_application(self) -> bool:
        return any(self.application_field(n) for n in self.fields_read())

    @property
    def without_application(self) -> bool:
        """免申 when every field the policy reads is held by the platform; otherwise 快申."""
        return not self.reads_application() and all(
            field_spec(name).held for name in self.fields_read()
        )

    @property
    def mode_label(self) -> str:
        return "免申即享" if self.without_application else "快申（需补充材料）"
