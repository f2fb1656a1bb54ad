"""免申即享's mail: the enterprises told of their new pushes (with the reasons, and how the amount
is paid), and the pushes no account receives, which the policy office is mailed and then tells
the enterprise offline (线下通知)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from chanye.policy.fields import label_of
from chanye.policy.instalment_plans import scheduled_shares
from chanye.policy.receivers import receivers
from chanye.policy.workflow import (
    PUBLISHED,
    PUSHED,
    WorkflowRefusedError,
    evidence_of,
    explanation_of,
    policy_of,
)
from chanye.portal import emails
from chanye.portal.mail import MailSettings, deliver
from chanye.store.audit import Actor, record
from chanye.store.models import Account, PolicyPush, PolicyRun, PolicyVersion, utcnow

# --- telling the enterprises ---------------------------------------------------------------

OUTCOME_MARKS = {"holds": "满足", "fails": "不满足", "unknown": "待补充"}


def reasons(explanation: dict[str, Any]) -> list[str]:
    """The explanation as lines of text: each clause, the values read, the outcome; the sum."""

    own = explanation.get("labels") or {}

    def label(name: str) -> str:
        return str(own.get(name) or label_of(name))

    lines = []
    for c in explanation.get("conditions", []):
        values = "；".join(
            f"{label(n)}：{'缺失' if v is None else v}" for n, v in c["values"].items()
        )
        lines.append(f"{c['text']} — {values or '—'} — {OUTCOME_MARKS.get(c['outcome'], '')}")
    if explanation.get("arithmetic"):
        lines.append(f"金额：{explanation['arithmetic']}")
    lines += [f"拨付记录：{note}" for note in (explanation.get("ledger") or {}).get("notes", [])]
    lines.append(
        f"数据截至 {explanation.get('as_of')}，来自企业库第 {explanation.get('source_change')} 号变更"
    )
    return lines


def notify_new_pushes(
    session: Session, run: PolicyRun, mail: MailSettings, site_url: str, actor: Actor
) -> int:
    """Mail the accounts of the enterprises that got a new push in this run; returns how many
    mails went out. A mail that cannot be sent does not undo the run (the push is on the
    enterprise's page either way). The policy office is mailed the new pushes nobody receives."""
    reach = receivers().subquery()
    rows = session.execute(
        select(PolicyPush, Account, PolicyVersion)
        .join(reach, reach.c.uscc == PolicyPush.uscc)
        .join(Account, Account.id == reach.c.account_id)
        .join(PolicyVersion, PolicyVersion.id == PolicyPush.policy_version_id)
        .where(
            PolicyPush.first_run_id == run.id,
            PolicyPush.status == PUSHED,
            Account.email_confirmed.is_(True),
        )
    ).all()
    sent, failed = 0, 0
    for push, account, version in rows:
        text = emails.policy_pushed(
            account.display_name,
            version.title,
            version.issuer,
            push.amount,
            reasons(explanation_of(push, version)),
            f"{site_url}/my/policies#push-{push.id}",
            [s.words for s in scheduled_shares(policy_of(version), push.amount)],
        )
        if deliver(session, mail, account.email, text):
            sent += 1
        else:
            failed += 1
    if rows:
        record(
            session,
            actor,
            "policy.notify",
            "policy_run",
            str(run.id),
            after={"sent": sent, "failed": failed},
            result="success" if not failed else "failure",
        )
    notify_office_of_unreachable(session, run, mail, site_url, actor)
    return sent


# --- pushes nobody receives: the policy office tells the enterprise offline (线下通知) ---------

POLICY_OFFICE_ROLE = "policy_office"


UNREACHABLE_SHOWN = 200  # on the management page; the count says how many there are in all
UNREACHABLE_MAILED = 20  # enterprises named in the mail to the policy office


def _unreachable(run_id: int | None) -> Select[PolicyPush, PolicyVersion]:
    reachable = select(receivers().subquery().c.uscc)
    query = (
        select(PolicyPush, PolicyVersion)
        .join(PolicyVersion, PolicyVersion.id == PolicyPush.policy_version_id)
        .where(
            PolicyPush.status == PUSHED,
            PolicyVersion.status == PUBLISHED,
            PolicyPush.offline_noticed_at.is_(None),
            PolicyPush.uscc.not_in(reachable),
        )
    )
    return query if run_id is None else query.where(PolicyPush.first_run_id == run_id)


def unreachable_pushes(
    session: Session, run_id: int | None = None, limit: int = UNREACHABLE_SHOWN
) -> list[tuple[PolicyPush, PolicyVersion]]:
    """Undecided pushes of published versions that no account can receive and that nobody has
    told offline yet (those of one run, with ``run_id``): the first ``limit``, by policy then
    enterprise."""
    query = _unreachable(run_id).order_by(PolicyVersion.policy_id, PolicyPush.uscc).limit(limit)
    return [(push, version) for push, version in session.execute(query).all()]


def unreachable_count(session: Session, run_id: int | None = None) -> int:
    return int(
        session.scalar(select(func.count()).select_from(_unreachable(run_id).subquery())) or 0
    )


def notify_office_of_unreachable(
    session: Session, run: PolicyRun, mail: MailSettings, site_url: str, actor: Actor
) -> int:
    """Mail every policy office account the pushes this run created that nobody receives;
    returns how many there are (0: nothing to tell, no mail)."""
    found = unreachable_pushes(session, run.id, UNREACHABLE_MAILED)
    if not found:
        return 0
    total = unreachable_count(session, run.id)
    version = found[0][1]
    enterprises = [
        f"{evidence_of(push).get('name') or '（名称未知）'}（{push.uscc}）" for push, _ in found
    ]
    office = session.scalars(
        select(Account).where(
            Account.role == POLICY_OFFICE_ROLE,
            Account.status == "active",
            Account.email_confirmed.is_(True),
        )
    ).all()
    sent = 0
    for account in office:
        text = emails.pushes_unreachable(
            account.display_name,
            version.title,
            enterprises,
            total,
            f"{site_url}/policies/manage#offline",
        )
        if deliver(session, mail, account.email, text):
            sent += 1
    after = {"unreachable": total, "mailed": sent, "office_accounts": len(office)}
    record(session, actor, "policy.notify_office", "policy_run", str(run.id), after=after)
    return total


def mark_offline_notice(session: Session, push: PolicyPush, actor: Actor) -> None:
    """已线下通知: the policy office told the enterprise of its push by phone or visit."""
    if push.status != PUSHED or push.offline_noticed_at is not None:
        raise WorkflowRefusedError(
            "这条推送已处理或已登记线下通知，无需再登记", "this push needs no offline notice"
        )
    push.offline_noticed_at, push.offline_noticed_by = utcnow(), actor.name
    record(
        session,
        actor,
        "policy.push.offline_notice",
        "policy_push",
        str(push.id),
        after={"uscc": push.uscc, "policy_id": push.policy_id},
    )
