"""The payout ledger: what was actually paid, and what that leaves a policy to pay.

Real documents limit a benefit by the enterprise's past: 一次性 (never paid under this policy
before), 每年累计不超过 / 有效期内累计不超过 (a cap over what was paid), 未获得同类补贴 (none from a
named kind of subsidy). A policy says so under ``benefit`` (``once``, ``yearly_cap``,
``total_cap``, ``unless_paid``); this module decides each candidate against the payments on
record — recorded when a confirmed push is paid, or imported from before the platform — never
against one run's pushes, so a past winner is not paid again.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc

from chanye.policy.loader import POLICY_ID
from chanye.policy.model import Policy
from chanye.store.audit import Actor, record
from chanye.store.database import in_lists
from chanye.store.models import PolicyPayment
from chanye.units import format_yuan, parse_amount


@dataclass(frozen=True)
class Payment:
    policy_id: str
    group: str | None
    amount: float
    paid_on: dt.date

    def of(self, names: Iterable[str]) -> bool:
        wanted = set(names)
        return self.policy_id in wanted or (self.group is not None and self.group in wanted)


Payments = Mapping[str, Sequence[Payment]]  # USCC → its payments


@dataclass(frozen=True)
class Limited:
    """What the ledger leaves of one decision: ``blocked`` (nothing may be paid), the amount
    still payable (None: unchanged), and why, in words."""

    blocked: bool
    amount: float | None
    notes: tuple[str, ...]


def payments_for(
    session: Session, policy: Policy, usccs: Iterable[str]
) -> dict[str, list[Payment]]:
    """The payments that bear on ``policy`` for these enterprises (none when it sets no limit)."""
    if not policy.limits.any:
        return {}
    names = {policy.id, *policy.limits.unless_paid}
    found: dict[str, list[Payment]] = {}
    for part in in_lists(usccs):
        rows = session.scalars(select(PolicyPayment).where(PolicyPayment.uscc.in_(part)))
        for row in rows:
            payment = Payment(row.policy_id, row.payment_group, row.amount, row.paid_on)
            if payment.of(names):
                found.setdefault(row.uscc, []).append(payment)
    return found


def limit(policy: Policy, amount: float | None, paid: Sequence[Payment], as_of: dt.date) -> Limited:
    """One candidate's decision against its payments on record."""
    limits, notes = policy.limits, []
    own = [p for p in paid if p.policy_id == policy.id]
    if limits.once and own:
        first = min(own, key=lambda p: p.paid_on)
        notes.append(
            f"已于 {first.paid_on} 获本政策奖补 {format_yuan(first.amount)}（一次性，不再享受）"
        )
    rivals = [p for p in paid if p.policy_id != policy.id and p.of(limits.unless_paid)]
    if rivals:
        other = rivals[0]
        notes.append(
            f"已于 {other.paid_on} 获同类补贴（{other.policy_id}）{format_yuan(other.amount)}"
        )
    if notes:
        return Limited(True, None, tuple(notes))
    return _capped(amount, _left_under_caps(policy, own, as_of, notes), notes)


def limit_instalment(
    policy: Policy, amount: float, paid: Sequence[Payment], paid_on: dt.date
) -> Limited:
    """One instalment (分期拨付) against the caps only, as of the day it is paid: 一次性 and
    同类补贴 were decided when its push was matched, and its own earlier instalments are the
    same benefit, not a second one."""
    notes: list[str] = []
    own = [p for p in paid if p.policy_id == policy.id]
    return _capped(amount, _left_under_caps(policy, own, paid_on, notes), notes)


def _capped(amount: float | None, left: float | None, notes: list[str]) -> Limited:
    if left is None or amount is None or amount <= left:
        return Limited(False, None, tuple(notes))
    if left <= 0:
        return Limited(True, None, tuple(notes))
    return Limited(False, left, tuple(notes))


def _left_under_caps(
    policy: Policy, own: Sequence[Payment], as_of: dt.date, notes: list[str]
) -> float | None:
    """What the caps leave payable (None: no cap), saying what was paid already."""
    left: float | None = None
    if policy.limits.yearly_cap is not None:
        this_year = sum(p.amount for p in own if p.paid_on.year == as_of.year)
        left = policy.limits.yearly_cap - this_year
        if this_year:
            cap = format_yuan(policy.limits.yearly_cap)
            notes.append(
                f"{as_of.year} 年已获本政策 {format_yuan(this_year)}，每年累计不超过 {cap}"
            )
    if policy.limits.total_cap is not None:
        within = sum(p.amount for p in own if policy.valid_from <= p.paid_on <= policy.valid_to)
        total_left = policy.limits.total_cap - within
        left = total_left if left is None else min(left, total_left)
        if within:
            cap = format_yuan(policy.limits.total_cap)
            notes.append(f"有效期内已获本政策 {format_yuan(within)}，累计不超过 {cap}")
    return left


# --- groups: 同一企业累计不超过 (cap_group), 不重复享受 (exclusive_group) ------------------------


def imported_payments(
    session: Session, usccs: Iterable[str], policy_ids: Iterable[str]
) -> dict[str, list[Payment]]:
    """The payments of these policies made outside the platform's pushes (imported from before
    it), by USCC. A paid push counts as its confirmed push already, so it is not read here."""
    ids = sorted(set(policy_ids))
    found: dict[str, list[Payment]] = {}
    if not ids:
        return found
    for part in in_lists(usccs):
        rows = session.scalars(
            select(PolicyPayment).where(
                PolicyPayment.uscc.in_(part),
                PolicyPayment.policy_id.in_(ids),
                PolicyPayment.push_id.is_(None),
            )
        )
        for row in rows:
            payment = Payment(row.policy_id, row.payment_group, row.amount, row.paid_on)
            found.setdefault(row.uscc, []).append(payment)
    return found


def within_validity(policy: Policy, paid: Sequence[Payment]) -> list[Payment]:
    """The payments made while ``policy`` is in force: what its groups count against it."""
    return [p for p in paid if policy.valid_from <= p.paid_on <= policy.valid_to]


# --- payments made before the platform -------------------------------------------------------

HEADERS = {
    "uscc": ("统一社会信用代码",),
    "policy_id": ("政策", "政策编号"),
    "payment_group": ("同类", "补贴类别"),
    "amount": ("金额", "拨付金额"),
    "paid_on": ("拨付日期",),
    "reference": ("凭证号", "文号"),
}
REQUIRED = ("uscc", "policy_id", "amount", "paid_on")


@dataclass(frozen=True)
class ImportedPayment:
    uscc: str
    policy_id: str
    payment_group: str | None
    amount: float
    paid_on: dt.date
    reference: str


def read_payments(path: Path) -> tuple[list[ImportedPayment], list[str]]:
    """The payments of a CSV file (UTF-8), or every problem, each naming its row and column.
    A money header may carry its unit (``金额（万元）``); a cell may carry one of its own."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return [], [f"{path.name}：文件为空"]
    columns, unit, problems = _columns(rows[0])
    problems = [f"{path.name}：{p}" for p in problems]
    found = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {key: (row[i].strip() if i < len(row) else "") for key, i in columns.items()}
        payment, faults = _payment(cells, unit)
        problems += [f"{path.name} 第 {number} 行 {fault}" for fault in faults]
        if payment is not None:
            found.append(payment)
    return found, problems


def _columns(header: list[str]) -> tuple[dict[str, int], float, list[str]]:
    columns: dict[str, int] = {}
    unit = 1.0
    for index, text in enumerate(header):
        name, _, rest = text.strip().partition("（")
        for key, names in HEADERS.items():
            if name in names:
                columns[key] = index
                if key == "amount" and rest:
                    unit = parse_amount("1" + rest.rstrip("）")) or 1.0
    missing = [HEADERS[k][0] for k in REQUIRED if k not in columns]
    return columns, unit, [f"缺少列：{'、'.join(missing)}"] if missing else []


def _payment(cells: dict[str, str], unit: float) -> tuple[ImportedPayment | None, list[str]]:
    faults = []
    uscc = cells.get("uscc", "").upper()
    if not stdnum_uscc.is_valid(uscc):  # the check the portal makes of a USCC
        faults.append(f"统一社会信用代码：不是有效的18位代码（含校验位），收到“{uscc}”")
    policy_id = cells.get("policy_id", "")
    if not POLICY_ID.match(policy_id):
        faults.append(f"政策：须为政策编号（小写字母、数字和 -），收到“{policy_id}”")
    text = cells.get("amount", "")
    amount = _amount(text, unit)
    if amount is None or amount <= 0:
        faults.append(f"金额：须为正的金额，收到“{text}”")
    day = _day(cells.get("paid_on", ""))
    if day is None:
        faults.append(f"拨付日期：须为日期，如 2024-06-30，收到“{cells.get('paid_on', '')}”")
    group = cells.get("payment_group") or None
    if faults or amount is None or day is None:
        return None, faults
    return ImportedPayment(uscc, policy_id, group, amount, day, cells.get("reference", "")), []


def _amount(text: str, unit: float) -> float | None:
    plain = text.replace(",", "").replace("，", "").strip()
    try:
        return float(plain) * unit
    except ValueError:
        return parse_amount(plain)


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        return None


def import_payments(session: Session, payments: Sequence[ImportedPayment], actor: Actor) -> int:
    """Write checked payments into the ledger, in one transaction with its audit entry."""
    session.add_all(
        PolicyPayment(
            policy_id=p.policy_id,
            payment_group=p.payment_group,
            uscc=p.uscc,
            amount=p.amount,
            paid_on=p.paid_on,
            push_id=None,
            reference=p.reference,
            recorded_by=actor.name,
        )
        for p in payments
    )
    record(
        session,
        actor,
        "policy.payment.import",
        "policy_payments",
        "",
        after={"count": len(payments), "total": sum(p.amount for p in payments)},
    )
    session.flush()
    return len(payments)
