"""快申: the values a policy asks an enterprise for, and how they become a decision.

A policy file may declare ``application`` fields (新设备购置额, 合同额 …) that the platform does
not hold. Matching finds the enterprises meeting every other condition and pushes to them as 待补充;
the enterprise fills the fields in on its push page, with the attachments the policy names; staff
check the values against the attachments and verify them or return them for correction. Only
verified values are read: the push is then decided with them, by the same rules as every other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.policy import workflow
from chanye.policy.model import ApplicationField, Policy
from chanye.policy.population import Population
from chanye.portal.documents import Upload, file_problems, write_files
from chanye.problems import Problem
from chanye.store.audit import Actor, record
from chanye.store.models import (
    Account,
    ApplicationDocument,
    PolicyApplication,
    PolicyPush,
    PolicyVersion,
    utcnow,
)
from chanye.units import parse_amount

SUBMITTED, VERIFIED, RETURNED = "submitted", workflow.VERIFIED, "returned"
STATUS_LABELS = {SUBMITTED: "已提交，待核实", VERIFIED: "已核实", RETURNED: "已退回补正"}
FOLDER = "applications"  # under the uploads folder, beside the membership documents
MAX_TEXT = 500
YES, NO = "是", "否"


class ApplicationRefusedError(workflow.WorkflowRefusedError):
    """An application that cannot be accepted; ``problems`` names each field at fault."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("；".join(p.zh for p in problems), "; ".join(p.en for p in problems))


@dataclass(frozen=True)
class Asked:
    """What a push asks its enterprise for, and where its application stands."""

    fields: tuple[ApplicationField, ...]
    application: PolicyApplication | None
    documents: tuple[ApplicationDocument, ...]

    @property
    def open(self) -> bool:
        """The enterprise may fill the form in (nothing submitted yet, or returned)."""
        return self.application is None or self.application.status == RETURNED

    def value(self, field_id: str) -> Any:
        return None if self.application is None else values_of(self.application).get(field_id)


def asked_of(session: Session, push: PolicyPush, policy: Policy) -> Asked | None:
    """What ``push`` asks for (None: its policy reads only data the platform holds)."""
    if not policy.application:
        return None
    application = application_of(session, push.id)
    documents = documents_of(session, application.id) if application else []
    return Asked(policy.application, application, tuple(documents))


def application_of(session: Session, push_id: int) -> PolicyApplication | None:
    return session.scalar(select(PolicyApplication).where(PolicyApplication.push_id == push_id))


def documents_of(session: Session, application_id: int) -> list[ApplicationDocument]:
    """The attachments of the latest submission (earlier ones are kept for the record)."""
    rows = session.scalars(
        select(ApplicationDocument)
        .where(ApplicationDocument.application_id == application_id)
        .order_by(ApplicationDocument.id)
    ).all()
    latest = {row.label: row for row in rows}  # the highest id of each label wins
    return list(latest.values())


def values_of(application: PolicyApplication) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(application.values)
    return found


# --- reading what the enterprise typed -----------------------------------------------------


def read_value(field: ApplicationField, text: str) -> tuple[Any, str | None]:
    """The value of one field as typed (money in the field's unit, or with a unit of its own:
    ``500万``), or why it cannot be taken."""
    typed = text.strip()
    if not typed:
        return None, f"请填写{field.label}"
    if field.kind == "text":
        return (
            (typed, None) if len(typed) <= MAX_TEXT else (None, f"{field.label}最多 {MAX_TEXT} 字")
        )
    if field.kind == "yes_no":
        return (typed == YES, None) if typed in (YES, NO) else (None, f"{field.label}请选择是或否")
    number = _number(field, typed)
    if number is None or number < 0:
        unit = f"（单位：{field.unit}）" if field.kind == "money" else ""
        return None, f"{field.label}须为不小于 0 的数字{unit}，收到“{typed}”"
    if field.kind == "integer":
        return (int(number), None) if number == int(number) else (None, f"{field.label}须为整数")
    return float(number), None


def _number(field: ApplicationField, typed: str) -> float | None:
    plain = typed.replace(",", "").replace("，", "").replace(" ", "")
    try:
        return float(Decimal(plain) * Decimal(str(field.input_factor())))
    except InvalidOperation:
        return parse_amount(plain) if field.kind == "money" else None


def _value_problems(
    fields: Sequence[ApplicationField], texts: Mapping[str, str]
) -> tuple[dict[str, Any], list[Problem]]:
    values, problems = {}, []
    for field in fields:
        value, problem = read_value(field, texts.get(field.id, ""))
        if problem is None:
            values[field.id] = value
        else:
            problems.append(Problem(field.id, problem, f"{field.id}: not accepted"))
    return values, problems


def attachment_labels(fields: Sequence[ApplicationField]) -> list[str]:
    return list(dict.fromkeys(a for f in fields for a in f.attachments))


def _attachment_problems(
    fields: Sequence[ApplicationField], uploads: Sequence[Upload], max_mb: int
) -> list[Problem]:
    problems = []
    for index, label in enumerate(attachment_labels(fields)):
        if not any(u.kind == attachment_key(index) for u in uploads):
            problems.append(
                Problem(attachment_key(index), f"请上传{label}（PDF、JPG 或 PNG）", f"{label}?")
            )
    for upload in uploads:
        problems += file_problems(upload, max_mb)
    return problems


def attachment_key(index: int) -> str:
    """The form field of the policy's ``index``-th attachment (labels are Chinese text)."""
    return f"attachment_{index}"


# --- the enterprise submits -----------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    texts: Mapping[str, str]  # field id → what was typed
    uploads: Sequence[Upload]  # kind: attachment_key(i) of the i-th attachment label
    uploads_dir: Path
    max_mb: int


def submit(
    session: Session,
    push: PolicyPush,
    account: Account,
    actor: Actor,
    submission: Submission,
) -> PolicyApplication:
    """The enterprise's values and attachments for its own push, to be verified by staff."""
    workflow.check_own_push(session, push, account, actor, "policy.application.submit")
    version = _version(session, push)
    policy = workflow.policy_of(version)
    existing = application_of(session, push.id)
    _check_open(push, policy, existing)
    values, problems = _value_problems(policy.application, submission.texts)
    problems += _attachment_problems(policy.application, submission.uploads, submission.max_mb)
    if problems:
        raise ApplicationRefusedError(problems)
    application = existing or PolicyApplication(
        push_id=push.id, policy_id=push.policy_id, uscc=push.uscc
    )
    application.values = json.dumps(values, ensure_ascii=False)
    application.status, application.submitted_at = SUBMITTED, utcnow()
    application.submitted_by, application.note = actor.name, ""
    application.reviewed_at = application.reviewed_by = None
    session.add(application)
    session.flush()
    _store(session, application, policy.application, submission)
    record(
        session,
        actor,
        "policy.application.submit",
        "policy_application",
        str(application.id),
        after={"push_id": push.id, "uscc": push.uscc, "policy_id": push.policy_id, **values},
    )
    return application


def _check_open(push: PolicyPush, policy: Policy, existing: PolicyApplication | None) -> None:
    if not policy.application:
        raise workflow.WorkflowRefusedError("该政策无需申报材料", "this policy asks for nothing")
    if push.status != workflow.PUSHED:
        raise workflow.WorkflowRefusedError(
            f"这条推送{workflow.PUSH_LABELS[push.status]}，不能再申报", "this push is closed"
        )
    if existing is not None and existing.status != RETURNED:
        raise workflow.WorkflowRefusedError(
            f"申报{STATUS_LABELS[existing.status]}，不能重复提交", "already submitted"
        )


def _store(
    session: Session,
    application: PolicyApplication,
    fields: Sequence[ApplicationField],
    submission: Submission,
) -> None:
    labels = attachment_labels(fields)
    keys = {attachment_key(i): label for i, label in enumerate(labels)}
    uploads = [u for u in submission.uploads if u.kind in keys]
    stored = write_files(session, uploads, submission.uploads_dir / FOLDER)
    session.add_all(
        ApplicationDocument(application_id=application.id, label=keys[upload.kind], **asdict(file))
        for upload, file in zip(uploads, stored, strict=True)
    )
    session.flush()


def _version(session: Session, push: PolicyPush) -> PolicyVersion:
    version = session.get(PolicyVersion, push.policy_version_id)
    if version is None or version.status != workflow.PUBLISHED:
        raise workflow.WorkflowRefusedError("该政策版本已失效，不能再申报", "the version expired")
    return version


# --- staff review ----------------------------------------------------------------------------


def pending(session: Session) -> list[tuple[PolicyApplication, PolicyPush]]:
    """Applications by status (待核实 first), each with its push."""
    rows = session.execute(
        select(PolicyApplication, PolicyPush)
        .join(PolicyPush, PolicyPush.id == PolicyApplication.push_id)
        .order_by(PolicyApplication.status != SUBMITTED, PolicyApplication.submitted_at)
    ).all()
    return [(a, p) for a, p in rows]


def review(
    session: Session,
    application: PolicyApplication,
    actor: Actor,
    verified: bool,
    note: str,
    population: Population,
) -> PolicyPush:
    """Staff verify the values (the push is then decided with them) or return them with the
    reason, so that the enterprise corrects and submits again."""
    if application.status != SUBMITTED:
        raise workflow.WorkflowRefusedError(
            f"该申报{STATUS_LABELS[application.status]}，不能再审核", "already reviewed"
        )
    if not verified and not note.strip():
        raise workflow.WorkflowRefusedError("退回补正须写明原因", "say why it is returned")
    push = session.get(PolicyPush, application.push_id)
    if push is None:
        raise workflow.WorkflowRefusedError("没有这条推送", "no such push")
    application.status = VERIFIED if verified else RETURNED
    application.note, application.reviewed_by = note.strip(), actor.name
    application.reviewed_at = utcnow()
    before = {"status": push.status, "amount": push.amount, "needs_data": push.needs_data}
    if verified:
        workflow.redecide(session, push, _version(session, push), population)
    record(
        session,
        actor,
        "policy.application.verify" if verified else "policy.application.return",
        "policy_application",
        str(application.id),
        before=before,
        after={
            "push_id": push.id,
            "uscc": push.uscc,
            "note": application.note,
            "status": push.status,
            "amount": push.amount,
            "needs_data": push.needs_data,
        },
    )
    session.flush()
    return push
