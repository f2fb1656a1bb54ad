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
from chanye.policy.model import ITEMS_KEY, ApplicationField, Items, Policy
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
    items: Items | None = None  # several projects (contracts …), each with these fields

    def listed(self) -> list[dict[str, Any]]:
        """The items submitted, by field id (none yet: an empty list)."""
        if self.application is None:
            return []
        found: list[dict[str, Any]] = values_of(self.application).get(ITEMS_KEY) or []
        return found

    def rows(self) -> int:
        """How many item rows the form shows: those listed and two blank ones, within the
        policy's most (the page adds more on request)."""
        if self.items is None:
            return 0
        return min(self.items.most, max(len(self.listed()) + 2, 3))

    @property
    def open(self) -> bool:
        """The enterprise may fill the form in (nothing submitted yet, or returned)."""
        return self.application is None or self.application.status == RETURNED

    def value(self, field_id: str) -> Any:
        return None if self.application is None else values_of(self.application).get(field_id)


def asked_of(session: Session, push: PolicyPush, policy: Policy) -> Asked | None:
    """What ``push`` asks for (None: its policy reads only data the platform holds)."""
    if not policy.supplied_fields:
        return None
    application = application_of(session, push.id)
    documents = documents_of(session, application.id) if application else []
    return Asked(policy.application, application, tuple(documents), policy.items)


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


def _item_problems(
    items: Items | None, rows: Sequence[Mapping[str, str]]
) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """Each item row typed (a blank row is no item): its values, by its row on the form."""
    if items is None:
        return [], []
    kept, problems = [], []
    filled = [
        (row, texts) for row, texts in enumerate(rows) if any(t.strip() for t in texts.values())
    ]
    for number, (row, texts) in enumerate(filled, start=1):
        values, found = _value_problems(items.fields, texts)
        kept.append((row, values))
        problems += [
            Problem(item_key(row, p.field), f"{items.label} {number}：{p.zh}", p.en) for p in found
        ]
    if not filled:
        problems.append(Problem(ITEMS_KEY, f"请至少填写一个{items.label}", "list one item"))
    if len(filled) > items.most:
        problems.append(
            Problem(ITEMS_KEY, f"每份申报最多 {items.most} 个{items.label}", "too many items")
        )
    return kept, problems


def item_key(row: int, field_id: str) -> str:
    """The form field of an item row's value (``item-0-equipment_spend``)."""
    return f"item-{row}-{field_id}"


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


def attachment_key(index: int, row: int | None = None) -> str:
    """The form field of the policy's ``index``-th attachment (labels are Chinese text); with
    ``row``, of that item row's ``index``-th attachment."""
    return f"attachment_{index}" if row is None else f"item_attachment_{row}_{index}"


def _item_attachment_problems(
    items: Items | None, kept: Sequence[tuple[int, dict[str, Any]]], uploads: Sequence[Upload]
) -> list[Problem]:
    if items is None:
        return []
    problems = []
    for number, (row, _values) in enumerate(kept, start=1):
        for index, label in enumerate(attachment_labels(items.fields)):
            if not any(u.kind == attachment_key(index, row) for u in uploads):
                problems.append(
                    Problem(
                        attachment_key(index, row),
                        f"{items.label} {number}：请上传{label}（PDF、JPG 或 PNG）",
                        f"{label}?",
                    )
                )
    return problems


# --- the enterprise submits -----------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    texts: Mapping[str, str]  # field id → what was typed
    uploads: Sequence[Upload]  # kind: attachment_key(i[, row]) of the i-th attachment label
    uploads_dir: Path
    max_mb: int
    items: Sequence[Mapping[str, str]] = ()  # each item row on the form: field id → typed


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
    kept, item_problems = _item_problems(policy.items, submission.items)
    problems += item_problems + _item_attachment_problems(policy.items, kept, submission.uploads)
    if problems:
        raise ApplicationRefusedError(problems)
    if policy.items is not None:
        values[ITEMS_KEY] = [item for _row, item in kept]
    application = existing or PolicyApplication(
        push_id=push.id, policy_id=push.policy_id, uscc=push.uscc
    )
    application.values = json.dumps(values, ensure_ascii=False)
    application.status, application.submitted_at = SUBMITTED, utcnow()
    application.submitted_by, application.note = actor.name, ""
    application.reviewed_at = application.reviewed_by = None
    session.add(application)
    session.flush()
    _store(session, application, _attachment_names(policy, [row for row, _v in kept]), submission)
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
    if not policy.supplied_fields:
        raise workflow.WorkflowRefusedError("该政策无需申报材料", "this policy asks for nothing")
    if push.status != workflow.PUSHED:
        raise workflow.WorkflowRefusedError(
            f"这条推送{workflow.PUSH_LABELS[push.status]}，不能再申报", "this push is closed"
        )
    if existing is not None and existing.status != RETURNED:
        raise workflow.WorkflowRefusedError(
            f"申报{STATUS_LABELS[existing.status]}，不能重复提交", "already submitted"
        )


def _attachment_names(policy: Policy, rows: Sequence[int]) -> dict[str, str]:
    """Each attachment's form field and the label it is stored under (an item's with its
    number: ``技术改造项目 2：设备购置发票清单``)."""
    names = {
        attachment_key(i): label for i, label in enumerate(attachment_labels(policy.application))
    }
    if policy.items is not None:
        for number, row in enumerate(rows, start=1):
            for i, label in enumerate(attachment_labels(policy.items.fields)):
                names[attachment_key(i, row)] = f"{policy.items.label} {number}：{label}"
    return names


def _store(
    session: Session,
    application: PolicyApplication,
    names: Mapping[str, str],
    submission: Submission,
) -> None:
    uploads = [u for u in submission.uploads if u.kind in names]
    stored = write_files(session, uploads, submission.uploads_dir / FOLDER)
    session.add_all(
        ApplicationDocument(application_id=application.id, label=names[upload.kind], **asdict(file))
        for upload, file in zip(uploads, stored, strict=True)
    )
    session.flush()


def _version(session: Session, push: PolicyPush) -> PolicyVersion:
    version = session.get(PolicyVersion, push.policy_version_id)
    if version is None or version.status != workflow.PUBLISHED:
        raise workflow.WorkflowRefusedError("该政策版本已失效，不能再申报", "the version expired")
    return version


# --- staff review ----------------------------------------------------------------------------


def pending(session: Session) -> list[tuple[PolicyApplication, PolicyPush, str]]:
    """Applications by status (待核实 first), each with its push and its policy's title."""
    rows = session.execute(
        select(PolicyApplication, PolicyPush, PolicyVersion.title)
        .join(PolicyPush, PolicyPush.id == PolicyApplication.push_id)
        .join(PolicyVersion, PolicyVersion.id == PolicyPush.policy_version_id)
        .order_by(PolicyApplication.status != SUBMITTED, PolicyApplication.submitted_at)
    ).all()
    return [(a, p, str(title)) for a, p, title in rows]


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
