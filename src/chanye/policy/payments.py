"""拨付: recording what was paid of a confirmed push (in full, or one instalment at a time), and the
disbursement list the policy office pays from (the page and its Excel file).

Each payment goes to the payout ledger (``PolicyPayment``), which the policies that limit by what
was paid (``chanye.policy.ledger``) read from then on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.beijing import BEIJING, aware, today_in_beijing
from chanye.policy import ledger
from chanye.policy.instalment_plans import (
    NEEDS_DATA,
    PAID,
    PAYABLE,
    PENDING,
    REFUSED,
    InstalmentRow,
    instalment_rows,
    instalments_of,
)
from chanye.policy.model import Policy
from chanye.policy.workflow import (
    CONFIRMED,
    DECLINED,
    PUSH_LABELS,
    PUSHED,
    WITHDRAWN,
    WorkflowRefusedError,
    evidence_of,
    policy_of,
)
from chanye.spreadsheets import formula_safe, workbook_bytes
from chanye.store.audit import Actor, record
from chanye.store.database import in_lists
from chanye.store.models import PolicyInstalment, PolicyPayment, PolicyPush, PolicyVersion
from chanye.units import format_yuan


def record_payment(
    session: Session,
    push: PolicyPush,
    paid_on: dt.date,
    reference: str,
    actor: Actor,
    number: int | None = None,
) -> PolicyPayment:
    """拨付: a confirmed push was paid — in full, or (分期拨付) its instalment ``number`` (the
    first payable one when not given). The payout ledger keeps each payment (amount and date),
    and the policies that limit by what was paid read it from then on."""
    if push.status != CONFIRMED or push.amount is None:
        raise WorkflowRefusedError(
            "只有已确认享受的推送才能登记拨付", "only a confirmed push is paid"
        )
    if paid_on > today_in_beijing():
        raise WorkflowRefusedError("拨付日期不能晚于今天", "the payment date is in the future")
    version = session.get(PolicyVersion, push.policy_version_id)
    policy = policy_of(version) if version is not None else None
    planned = instalments_of(session, [push.id]).get(push.id, [])
    if not planned:
        if session.scalar(select(PolicyPayment).where(PolicyPayment.push_id == push.id)):
            raise WorkflowRefusedError("这条推送已登记拨付", "this push is paid already")
        amount, which = push.amount, 1
    else:
        instalment = _payable_instalment(planned, number, paid_on)
        amount = _instalment_within_limits(session, push, policy, instalment, paid_on)
        instalment.state, which = PAID, instalment.number
    payment = PolicyPayment(
        policy_id=push.policy_id,
        payment_group=policy.payment_group if policy is not None else None,
        uscc=push.uscc,
        amount=amount,
        paid_on=paid_on,
        push_id=push.id,
        instalment=which,
        reference=reference.strip(),
        recorded_by=actor.name,
    )
    session.add(payment)
    session.flush()
    record(
        session,
        actor,
        "policy.payment.record",
        "policy_push",
        str(push.id),
        after={
            "uscc": push.uscc,
            "policy_id": push.policy_id,
            "amount": amount,
            "instalment": which if planned else None,
            "paid_on": paid_on.isoformat(),
            "reference": payment.reference,
        },
    )
    return payment


def _payable_instalment(
    planned: list[PolicyInstalment], number: int | None, paid_on: dt.date
) -> PolicyInstalment:
    """The instalment to pay, refused unless its look-back has found it payable."""
    if number is None:
        number = next((i.number for i in planned if i.state == PAYABLE), planned[0].number)
    instalment = next((i for i in planned if i.number == number), None)
    if instalment is None:
        raise WorkflowRefusedError(f"这条推送没有第 {number} 期", f"no instalment {number}")
    where = f"第 {number} 期"
    refusals = {
        PAID: (f"{where}已登记拨付", "this instalment is paid already"),
        REFUSED: (f"{where}不予拨付：{instalment.reason}", "its look-back failed"),
        NEEDS_DATA: (f"{where}待补充：{instalment.reason}", "its look-back lacks data"),
        PENDING: (
            f"{where}应于 {instalment.due_on} 拨付，到期并经核查拨付条件后方可拨付",
            "not due, or its look-back not checked yet",
        ),
    }
    if instalment.state in refusals:
        raise WorkflowRefusedError(*refusals[instalment.state])
    if paid_on < instalment.due_on:
        raise WorkflowRefusedError(
            f"拨付日期不能早于{where}的应付日期 {instalment.due_on}", "paid before it is due"
        )
    return instalment


def _instalment_within_limits(
    session: Session,
    push: PolicyPush,
    policy: Policy | None,
    instalment: PolicyInstalment,
    paid_on: dt.date,
) -> float:
    """An instalment as the policy's caps (``yearly_cap``, ``total_cap``) leave it, counted
    against what the ledger holds as paid under the policy by the day it is paid: a later
    instalment falls in a later year's cap."""
    if policy is None or not policy.limits.any:
        return instalment.amount
    own = ledger.payments_for(session, policy, [push.uscc]).get(push.uscc, [])
    limited = ledger.limit_instalment(policy, instalment.amount, own, paid_on)
    if limited.blocked:
        raise WorkflowRefusedError(
            f"第 {instalment.number} 期：{'；'.join(limited.notes)}，已无可拨付金额",
            "the caps leave nothing to pay",
        )
    if limited.amount is not None:
        instalment.reason = f"按上限拨付 {format_yuan(limited.amount)}：{'；'.join(limited.notes)}"
        return limited.amount
    return instalment.amount


def payments_of(session: Session, push_ids: list[int]) -> dict[int, PolicyPayment]:
    return {
        p.push_id: p
        for part in in_lists(push_ids)
        for p in session.scalars(select(PolicyPayment).where(PolicyPayment.push_id.in_(part)))
        if p.push_id is not None
    }


# --- the disbursement list ----------------------------------------------------------------


@dataclass(frozen=True)
class DisbursementRow:
    uscc: str
    name: str
    amount: float | None
    status: str
    decided_at: dt.datetime | None
    needs_data: bool
    push_id: int = 0
    paid_on: dt.date | None = None  # 拨付 recorded in the payout ledger
    instalments: tuple[InstalmentRow, ...] = ()  # 分期拨付: each recorded on its own

    @property
    def status_label(self) -> str:
        return PUSH_LABELS[self.status] + ("（待补充数据）" if self.needs_data else "")


STATUS_ORDER = {CONFIRMED: 0, PUSHED: 1, DECLINED: 2, WITHDRAWN: 3}


def disbursement(session: Session, version_id: int) -> list[DisbursementRow]:
    """A version's pushes (withdrawn ones left out): confirmed first, largest amount first."""
    pushes = session.scalars(
        select(PolicyPush).where(
            PolicyPush.policy_version_id == version_id, PolicyPush.status != WITHDRAWN
        )
    ).all()
    paid = payments_of(session, [p.id for p in pushes if p.status == CONFIRMED])
    policy = policy_of(session.get_one(PolicyVersion, version_id))
    planned = instalment_rows(session, [(p, policy) for p in pushes if p.status == CONFIRMED])
    rows = [
        DisbursementRow(
            p.uscc,
            str(evidence_of(p).get("name") or ""),
            p.amount,
            p.status,
            aware(p.decided_at) if p.decided_at else None,
            p.needs_data,
            p.id,
            paid[p.id].paid_on if p.id in paid and p.id not in planned else None,
            tuple(planned.get(p.id, ())),
        )
        for p in pushes
    ]
    rows.sort(key=lambda r: (STATUS_ORDER[r.status], -(r.amount or 0.0), r.uscc))
    return rows


XLSX_HEADERS = (
    "序号",
    "统一社会信用代码",
    "企业名称",
    "金额（元）",
    "状态",
    "确认/放弃时间（北京时间）",
    "分期拨付",
)


def disbursement_xlsx(session: Session, version: PolicyVersion) -> bytes:
    """拨付清单 (confirmed pushes, with the total) and 推送明细 (every push) as an Excel file."""
    from openpyxl import Workbook

    rows = disbursement(session, version.id)
    today = today_in_beijing()
    workbook = Workbook(write_only=True)
    title = f"{version.title}（{version.policy_id} 第 {version.version} 版）"
    for sheet_name, chosen in (
        ("拨付清单", [r for r in rows if r.status == CONFIRMED]),
        ("推送明细", rows),
    ):
        sheet = workbook.create_sheet(sheet_name)
        sheet.append([formula_safe(f"{title} {sheet_name}")])
        sheet.append(list(XLSX_HEADERS))
        for number, row in enumerate(chosen, start=1):
            decided = (
                row.decided_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
                if row.decided_at
                else ""
            )
            sheet.append(
                [
                    number,
                    formula_safe(row.uscc),
                    formula_safe(row.name),
                    row.amount,
                    row.status_label,
                    decided,
                    "；".join(i.words_on(today) for i in row.instalments),
                ]
            )
        if sheet_name == "拨付清单":
            sheet.append(["合计", "", f"{len(chosen)} 家", sum(r.amount or 0.0 for r in chosen)])
    return workbook_bytes(workbook)
