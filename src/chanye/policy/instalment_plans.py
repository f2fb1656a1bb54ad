"""分期拨付: the instalments of a confirmed push, as stored and as pages show them.

A policy that pays over several years (``benefit.schedule``) splits a confirmed push's amount by
the schedule's shares into ``PolicyInstalment`` rows, each with its due date and state. The first
is payable at once; a later one waits for its due date and its look-back
(``chanye.policy.instalments``); the payments themselves are ``chanye.policy.payments``'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.beijing import years_later
from chanye.policy.model import Instalment, Policy
from chanye.store.database import in_lists
from chanye.store.models import PolicyInstalment, PolicyPayment, PolicyPush
from chanye.units import format_yuan

# An instalment's states. The first is payable once the push is confirmed; a later one waits for
# its due date and its look-back (``chanye.policy.instalments``).
PENDING, PAYABLE, NEEDS_DATA, REFUSED, PAID = "pending", "payable", "needs_data", "refused", "paid"
INSTALMENT_LABELS = {
    PENDING: "待核查",
    PAYABLE: "待拨付",
    NEEDS_DATA: "待补充（数据不全，暂不拨付）",
    REFUSED: "不予拨付",
    PAID: "已拨付",
}


def plan(session: Session, push: PolicyPush, policy: Policy, day: dt.date) -> None:
    """分期拨付: a confirmed push of a policy with a ``schedule`` gets its instalments, the first
    due on the day of confirmation, each later one its years after; the last takes the cents
    the shares leave."""
    if not policy.schedule or push.amount is None:
        return
    for number, instalment, amount in _split(policy, push.amount):
        session.add(
            PolicyInstalment(
                push_id=push.id,
                number=number,
                share=instalment.share,
                amount=amount,
                due_on=years_later(day, instalment.after_years),
                state=PAYABLE if number == 1 else PENDING,
                reason="",
            )
        )
    session.flush()


def instalments_of(session: Session, push_ids: list[int]) -> dict[int, list[PolicyInstalment]]:
    """The instalments of these pushes, by push, in order (none for a push paid at once)."""
    found: dict[int, list[PolicyInstalment]] = {}
    for part in in_lists(push_ids):
        rows = session.scalars(
            select(PolicyInstalment)
            .where(PolicyInstalment.push_id.in_(part))
            .order_by(PolicyInstalment.push_id, PolicyInstalment.number)
        )
        for row in rows:
            found.setdefault(row.push_id, []).append(row)
    return found


@dataclass(frozen=True)
class InstalmentRow:
    """One instalment as pages show it (money in yuan; pages write 万元)."""

    number: int
    amount: float
    due_on: dt.date
    state: str
    reason: str
    text: str  # the clause of the policy file (次年拨付40%，须仍为规上企业)
    paid_on: dt.date | None = None
    paid_amount: float | None = None

    @property
    def state_label(self) -> str:
        return INSTALMENT_LABELS[self.state]

    def is_due(self, day: dt.date) -> bool:
        return self.due_on <= day

    def label_on(self, day: dt.date) -> str:
        """Its state in words on ``day``: a later one not yet due is 未到期."""
        return "未到期" if self.state == PENDING and not self.is_due(day) else self.state_label

    def words_on(self, day: dt.date) -> str:
        """第2期 12万元 应付 2027-12-07 不予拨付：…, as the disbursement list shows it on ``day``."""
        paid = f" {self.paid_on}" if self.paid_on else ""
        why = f"：{self.reason}" if self.reason else ""
        return f"第{self.number}期 {format_yuan(self.amount)} 应付 {self.due_on} {self.label_on(day)}{paid}{why}"


def instalment_rows(
    session: Session, pushes: list[tuple[PolicyPush, Policy]]
) -> dict[int, list[InstalmentRow]]:
    """The instalments of these pushes with their payments and the policy's clause, by push."""
    planned = instalments_of(session, [p.id for p, _v in pushes])
    if not planned:
        return {}
    paid = {
        (p.push_id, p.instalment): p
        for part in in_lists(planned)
        for p in session.scalars(select(PolicyPayment).where(PolicyPayment.push_id.in_(part)))
    }
    found: dict[int, list[InstalmentRow]] = {}
    for push, policy in pushes:
        schedule = policy.schedule
        for i in planned.get(push.id, []):
            payment = paid.get((push.id, i.number))
            text = schedule[i.number - 1].text if i.number <= len(schedule) else ""
            found.setdefault(push.id, []).append(
                InstalmentRow(
                    i.number,
                    i.amount,
                    i.due_on,
                    i.state,
                    i.reason,
                    text,
                    payment.paid_on if payment else None,
                    payment.amount if payment else None,
                )
            )
    return found


def planned_rows(push: PolicyPush, policy: Policy, day: dt.date) -> list[InstalmentRow]:
    """The instalments a push not yet confirmed would have, were it confirmed on ``day``."""
    if not policy.schedule or push.amount is None:
        return []
    return [
        InstalmentRow(n, a, years_later(day, i.after_years), PENDING, "", i.text)
        for n, i, a in _split(policy, push.amount)
    ]


def _split(policy: Policy, amount: float) -> list[tuple[int, Instalment, float]]:
    """(number, instalment, its amount) for each of the schedule's instalments: the amount split
    by their shares, the last taking the cents the others leave, so that they add up to it."""
    if not policy.schedule:
        return []
    amounts = [round(amount * i.share, 2) for i in policy.schedule]
    amounts[-1] = round(amount - sum(amounts[:-1]), 2)
    return [(n, i, a) for n, (i, a) in enumerate(zip(policy.schedule, amounts, strict=True), 1)]


def committed(push: PolicyPush, instalments: list[PolicyInstalment]) -> float:
    """What a confirmed push still stands to pay, paid or not: its amount, less the instalments
    refused on their look-back (and what caps took off those paid)."""
    if not instalments:
        return push.amount or 0.0
    return sum(i.amount for i in instalments if i.state != REFUSED)


# --- the schedule in words, wherever an amount is shown --------------------------------------


@dataclass(frozen=True)
class ScheduledShare:
    """One instalment of a policy's schedule, with what it pays of an amount (yuan; None: the
    amount is not known yet)."""

    number: int
    share: float
    after_years: int
    amount: float | None
    text: str  # the clause: 次年拨付40%，须仍为规上企业

    @property
    def words(self) -> str:
        """首期 60% 18万元（确认当日）, 次年 40% 12万元（次年拨付40%，须仍为规上企业）."""
        when = {0: "首期", 1: "次年"}.get(self.after_years, f"第 {self.after_years + 1} 年")
        amount = f" {format_yuan(self.amount)}" if self.amount is not None else ""
        condition = "确认当日" if self.after_years == 0 else (self.text or "到期拨付")
        return f"{when} {self.share * 100:.4g}%{amount}（{condition}）"


def scheduled_shares(policy: Policy, amount: float | None) -> list[ScheduledShare]:
    """The policy's instalments, each with its part of ``amount`` (none: paid at once)."""
    return [
        ScheduledShare(n, i.share, i.after_years, None if amount is None else a, i.text)
        for n, i, a in _split(policy, amount or 0.0)
    ]


def schedule_words(policy: Policy, amount: float | None) -> str:
    """分 2 期：首期 60% 18万元（确认当日）、次年 40% 12万元（…）; empty when paid at once."""
    return shares_words(scheduled_shares(policy, amount))


def shares_words(shares: list[ScheduledShare]) -> str:
    return f"分 {len(shares)} 期：{'、'.join(s.words for s in shares)}" if shares else ""
