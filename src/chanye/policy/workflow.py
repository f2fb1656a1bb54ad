"""免申即享: policy versions (draft → published → expired), matching runs that create and update
pushes with their evidence, and the enterprise's confirm or decline.

What follows a decision lives beside it: the instalments a confirmed push is paid in
(``chanye.policy.instalment_plans``), the payments and the disbursement list
(``chanye.policy.payments``), the mail about pushes (``chanye.policy.notices``).

A run evaluates one published version over the loaded enterprises (``Population``) and reconciles
the result with the pushes already made: one push per (version, enterprise), never two. New
eligible enterprises get a push; a push whose enterprise no longer qualifies is withdrawn while it
is still undecided; a decision (confirmed, declined) is never changed by a run, nor the amount and
evidence it was made on. Every run is audited with its counts, every decision of a person too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import orjson
from sqlalchemy import CursorResult, Table, func, insert, select, update
from sqlalchemy.orm import Session

from chanye.batching import collector_paused
from chanye.beijing import BEIJING, aware
from chanye.policy import instalment_plans, ledger
from chanye.policy.columnar import Candidates
from chanye.policy.demo import demo_files
from chanye.policy.explain import (
    Explanation,
    Known,
    evidence,
    expanded,
    explain,
    explain_record,
    known_at,
)
from chanye.policy.interpret import FAILS, UNKNOWN
from chanye.policy.loader import PolicyFileError, PolicyProblem, load_policy_text
from chanye.policy.model import ITEMS_KEY, Policy
from chanye.policy.population import Population, candidates, candidates_all
from chanye.policy.vocabulary import unknown_words
from chanye.portal import binding
from chanye.problems import ReasonRefusedError
from chanye.registry.view import change_in_force
from chanye.store.audit import Actor, record
from chanye.store.models import (
    Account,
    PolicyApplication,
    PolicyPush,
    PolicyRun,
    PolicyVersion,
    utcnow,
)
from chanye.store.policy_runs import PUBLISHED as PUBLISHED  # its name for the pages
from chanye.system.model import IndustrialSystem
from chanye.system.versions import system_in_force
from chanye.units import format_yuan

DRAFT, EXPIRED = "draft", "expired"  # and PUBLISHED, which the registry's commands ask about
PUSHED, CONFIRMED, DECLINED, WITHDRAWN = "pushed", "confirmed", "declined", "withdrawn"
VERSION_LABELS = {DRAFT: "草稿", PUBLISHED: "已发布", EXPIRED: "已失效"}
PUSH_LABELS = {
    PUSHED: "待确认",
    CONFIRMED: "已确认享受",
    DECLINED: "已放弃",
    WITHDRAWN: "已撤回（不再符合条件）",
}
# Words the web pages use after /policies/: a policy may not take one as its id.
RESERVED_IDS = frozenset({"manage", "drafts", "versions", "pushes"})  # fixed words under /policies/
AUDIT_SAMPLE = 200  # USCCs listed in a run's audit row per kind of change


class WorkflowRefusedError(ReasonRefusedError):
    """A step the workflow does not allow, with the reason in Chinese and English."""


class NotYourPushError(WorkflowRefusedError):
    def __init__(self) -> None:
        super().__init__("这条推送不属于您的企业", "this push is not your enterprise's")


# --- versions -------------------------------------------------------------------------------


@lru_cache(maxsize=128)
def _parse(text: str, source_name: str) -> Policy:
    return load_policy_text(text, source_name)


def policy_of(version: PolicyVersion) -> Policy:
    """The policy a stored version holds (parsed once per text)."""
    return _parse(version.source_text, version.source_name)


def _refuse_unknown_words(policy: Policy, system: IndustrialSystem) -> None:
    """A tag, cluster or district the system does not have matches nobody: refused, at the line
    of its condition's ``when`` (of an instalment's look-back)."""
    found = unknown_words([policy], system)
    if found:
        raise PolicyFileError(found)


def add_draft(session: Session, text: str, source_name: str, actor: Actor) -> PolicyVersion:
    """A new draft version of the policy the file describes; ``PolicyFileError`` when invalid."""
    policy = _parse(text, source_name)  # parsed once: publishing it reads the same parse
    if policy.id in RESERVED_IDS:
        line = next((n for n, s in enumerate(text.splitlines(), 1) if s.startswith("id:")), 1)
        raise PolicyFileError(
            [
                PolicyProblem(
                    source_name, line, 5, f"id 不能用 {policy.id}（网页地址保留字）/ reserved id"
                )
            ]
        )
    _refuse_unknown_words(policy, system_in_force(session))
    digest = hashlib.sha256(text.encode()).hexdigest()
    same = session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.policy_id == policy.id,
            PolicyVersion.sha256 == digest,
            PolicyVersion.status != EXPIRED,
        )
    )
    if same is not None:
        raise WorkflowRefusedError(
            f"与 {policy.id} 第 {same.version} 版内容相同，无需重复上传",
            f"identical to version {same.version}",
        )
    latest = session.scalar(
        select(func.max(PolicyVersion.version)).where(PolicyVersion.policy_id == policy.id)
    )
    row = PolicyVersion(
        policy_id=policy.id,
        version=(latest or 0) + 1,
        status=DRAFT,
        title=policy.title[:200],
        issuer=policy.issuer[:200],
        source_name=source_name[-500:],
        source_text=text,
        sha256=digest,
        created_by=actor.name,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "policy.draft",
        "policy_version",
        str(row.id),
        after={
            "policy_id": row.policy_id,
            "version": row.version,
            "sha256": digest,
            "source_name": row.source_name,
        },
    )
    return row


def has_benefit(version: PolicyVersion) -> bool:
    """A version that pays an amount: public money, published only after a second look."""
    return policy_of(version).amount is not None


def awaits_approval(version: PolicyVersion) -> bool:
    """双人复核: a draft with a benefit that no second person has approved yet."""
    return version.status == DRAFT and has_benefit(version) and version.approved_by is None


class SamePersonRefusedError(WorkflowRefusedError):
    def __init__(self) -> None:
        super().__init__(
            "双人复核：本版含奖补金额，起草人不能复核自己起草的版本，"
            "须由另一位有政策管理权限的人员复核后发布",
            "two-person rule: the drafter cannot approve their own version",
        )


def approve(session: Session, version: PolicyVersion, actor: Actor) -> None:
    """双人复核: someone other than the drafter approves a version with a benefit (audited; a
    refusal too)."""
    if version.created_by == actor.name:
        after = {"policy_id": version.policy_id, "version": version.version}
        after["drafter"] = version.created_by
        _version_event(session, actor, "policy.approve", version, after, result="refused")
        raise SamePersonRefusedError()
    _approved(session, version, actor)


def approve_as_system(session: Session, version: PolicyVersion, why: str) -> None:
    """The approval of a version published by chanye itself (the demo's policies), not by a
    person: recorded as ``system`` with the reason, so that the audit log says so."""
    _approved(session, version, Actor(), why)


def _approved(
    session: Session, version: PolicyVersion, actor: Actor, why: str | None = None
) -> None:
    version.approved_by, version.approved_at = actor.name, utcnow()
    after = {"policy_id": version.policy_id, "version": version.version}
    after.update(drafter=version.created_by, approved_by=actor.name)
    if why:
        after["why"] = why
    _version_event(session, actor, "policy.approve", version, after)


def superseded_by(session: Session, version: PolicyVersion) -> list[PolicyVersion]:
    """The published versions of the same policy that publishing ``version`` expires."""
    return list(
        session.scalars(
            select(PolicyVersion).where(
                PolicyVersion.policy_id == version.policy_id,
                PolicyVersion.status == PUBLISHED,
                PolicyVersion.id != version.id,
            )
        )
    )


def publish(
    session: Session,
    version: PolicyVersion,
    actor: Actor,
    population: Population,
    known: Candidates | None = None,
) -> PolicyRun:
    """Publish a draft (the version published before it expires) and run the matching.

    A version with a benefit needs a second person: if nobody approved it yet, the publisher
    approves it now, and is refused if they drafted it. ``known``: its candidates, when worked
    out already (``run_matching``).
    """
    if version.status != DRAFT:
        raise WorkflowRefusedError(
            f"只能发布草稿，第 {version.version} 版已{VERSION_LABELS[version.status]}",
            "only a draft can be published",
        )
    if awaits_approval(version):
        approve(session, version, actor)
    now = utcnow()
    for old in superseded_by(session, version):
        _expire(session, old, actor, now, superseded_by=version.id)
    version.status, version.published_at, version.published_by = PUBLISHED, now, actor.name
    after = {"status": PUBLISHED, "policy_id": version.policy_id, "version": version.version}
    after["approved_by"] = version.approved_by
    _version_event(session, actor, "policy.publish", version, after, before={"status": DRAFT})
    session.flush()
    return run_matching(session, version, population, actor, known)


def expire(session: Session, version: PolicyVersion, actor: Actor) -> int:
    """停止执行: a published version expires; its undecided pushes are withdrawn (returned), the
    confirmed ones stay on the disbursement list."""
    if version.status != PUBLISHED:
        raise WorkflowRefusedError(
            f"只能停止执行已发布的版本，第 {version.version} 版{VERSION_LABELS[version.status]}",
            "only a published version can be expired",
        )
    return _expire(session, version, actor, utcnow())


def _expire(
    session: Session,
    version: PolicyVersion,
    actor: Actor,
    now: dt.datetime,
    superseded_by: int | None = None,
) -> int:
    version.status, version.expired_at = EXPIRED, now
    withdrawn = _withdraw_undecided(session, version, now)
    after: dict[str, Any] = {"status": EXPIRED, "withdrawn": withdrawn}
    if superseded_by is not None:
        after["superseded_by"] = superseded_by
    _version_event(session, actor, "policy.expire", version, after, before={"status": PUBLISHED})
    return withdrawn


def _version_event(
    session: Session,
    actor: Actor,
    action: str,
    version: PolicyVersion,
    after: dict[str, Any],
    before: dict[str, Any] | None = None,
    result: str = "success",
) -> None:
    """One audit row for a step of a policy version."""
    record(
        session,
        actor,
        action,
        "policy_version",
        str(version.id),
        before=before,
        after=after,
        result=result,
    )


def undecided_count(session: Session, version: PolicyVersion) -> tuple[int, int]:
    """(undecided, confirmed) pushes of a version: what expiring it withdraws and keeps."""
    counts = dict(
        session.execute(
            select(PolicyPush.status, func.count())
            .where(PolicyPush.policy_version_id == version.id)
            .group_by(PolicyPush.status)
        ).all()
    )
    return int(counts.get(PUSHED, 0)), int(counts.get(CONFIRMED, 0))


def _withdraw_undecided(session: Session, version: PolicyVersion, now: dt.datetime) -> int:
    """An expired version's undecided pushes are withdrawn: the new version pushes afresh."""
    withdrawn = session.execute(
        update(PolicyPush)
        .where(PolicyPush.policy_version_id == version.id, PolicyPush.status == PUSHED)
        .values(status=WITHDRAWN, updated_at=now)
    )
    return int(cast("CursorResult[Any]", withdrawn).rowcount)


# --- matching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    rid: int
    amount: float | None
    needs_data: bool
    change_id: int | None


Supplied = Mapping[str, Mapping[str, Any]]  # USCC → application field name → verified value


def decisions(
    population: Population,
    policy: Policy,
    known: Candidates | None = None,
    supplied: Supplied | None = None,
) -> tuple[dict[str, Decision], Candidates]:
    """Every enterprise the policy pushes to: eligible, or failing only for missing data (待补充);
    with the candidates' condition states, which the evidence of the pushes reads.

    An eligible enterprise whose amount cannot be computed (the formula reads a missing value) is
    "needs data" too: nothing can be paid until the value is known. ``known``: the candidates,
    when worked out already (several policies side by side, ``candidates_all``).
    """
    found = candidates(population, policy) if known is None else known
    eligible = found.eligible
    needs = ~eligible | (np.isnan(found.amounts) if policy.amount is not None else False)
    usccs = population.view.at("uscc", found.rows).to_pylist()
    changes = population.view.at("change_id", found.rows).to_pylist()
    result: dict[str, Decision] = {}
    for rid, uscc, change_id, amount, needs_data in zip(
        found.rows.tolist(), usccs, changes, found.amounts.tolist(), needs.tolist(), strict=True
    ):
        result[str(uscc)] = Decision(
            int(rid),
            None if needs_data or math.isnan(amount) else float(amount),
            bool(needs_data),
            None if change_id is None else int(change_id),
        )
    _decide_supplied(population, policy, result, supplied or {})
    return result, found


VERIFIED = (
    "verified"  # an application's values, once staff checked them (chanye.policy.applications)
)


def verified_values(session: Session, policy: Policy) -> dict[str, dict[str, Any]]:
    """The application values staff verified for ``policy``, by USCC and field name (快申)."""
    if not policy.supplied_fields:
        return {}
    found = session.scalars(
        select(PolicyApplication).where(
            PolicyApplication.policy_id == policy.id, PolicyApplication.status == VERIFIED
        )
    )
    return {a.uscc: supplied_record(policy, json.loads(a.values)) for a in found}


def supplied_record(policy: Policy, values: dict[str, Any]) -> dict[str, Any]:
    """An application's values (by field id, items as a list) as the record fields conditions
    read them by (``application:money:equipment_spend``; items under ``ITEMS_KEY``)."""
    names = {a.id: a.field_name for a in policy.application}
    record = {names[k]: v for k, v in values.items() if k in names}
    if policy.items is not None:
        per_item = {a.id: a.field_name for a in policy.items.fields}
        listed = values.get(ITEMS_KEY) or []
        record[ITEMS_KEY] = [
            {per_item[k]: v for k, v in i.items() if k in per_item} for i in listed
        ]
    return record


def _decide_supplied(
    population: Population, policy: Policy, found: dict[str, Decision], supplied: Supplied
) -> None:
    """The candidates whose application values staff verified, decided with those values (the
    engine saw them as unknown): eligible with an amount, still needing data, or not at all."""
    mine = [u for u in found if u in supplied]
    if not mine:  # the usual case: nobody's application values to read
        return
    records = population.records(mine, policy, {u: found[u].rid for u in mine})
    for uscc in mine:
        decision = found[uscc]
        record = {**records.get(uscc, {}), **supplied[uscc]}
        decided = _decided(policy, record, population.as_of, decision.rid, decision.change_id)
        if decided is None:
            del found[uscc]
        else:
            found[uscc] = decided


def _decided(
    policy: Policy, record: dict[str, Any], as_of: dt.date, rid: int, change_id: int | None
) -> Decision | None:
    """One record decided by the interpreter, as the engine decides a candidate: None when a
    condition fails; needing data when one is unknown or the amount reads a missing value."""
    kept = evidence(policy, [record], as_of)[0]
    outcomes = kept["outcomes"]
    if FAILS in outcomes:
        return None
    needs_data = UNKNOWN in outcomes or (policy.amount is not None and kept["amount"] is None)
    return Decision(rid, None if needs_data else kept["amount"], needs_data, change_id)


def decide_one(
    population: Population, policy: Policy, uscc: str, supplied: Supplied
) -> Decision | None:
    """One enterprise's decision (what ``decisions`` gives it), worked out on its record alone:
    None when the policy does not push to it (not in force, not founded yet, a condition
    fails, or no such enterprise)."""
    key = uscc.strip().upper()
    rows = population.view.rows_of([key])
    if (
        key not in rows
        or not policy.valid_on(population.as_of)
        or population.founded_after(key) is not None
    ):
        return None
    record = {**population.records([key], policy, rows)[key], **supplied.get(key, {})}
    change_id = record.get("change_id")
    return _decided(
        policy,
        record,
        population.as_of,
        rows[key],
        None if change_id is None else int(change_id),
    )


def evidence_texts(
    population: Population,
    policy: Policy,
    usccs: list[str],
    extra: dict[str, Any],
    rows: dict[str, int] | None = None,
    known: Candidates | None = None,
    supplied: Supplied | None = None,
    notes: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, str]:
    """The evidence (JSON, ``explain.evidence``) of each enterprise's decision, their records
    read in one scan; ``extra`` is kept beside it (the run and the registry change: where the
    values came from). With ``known``, the outcomes and amounts of the candidates among them are
    the engine's, not evaluated again one record at a time."""
    if not usccs:
        return {}
    records = population.records(usccs, policy, rows)
    present = [u for u in usccs if u.strip().upper() in records]
    worked_out = _known(known, present, rows or {})
    for uscc, values in (supplied or {}).items():  # evaluated with them, not the engine's
        if uscc in records:
            records[uscc] = {**records[uscc], **values}
            worked_out.pop(uscc, None)
    kept = evidence(
        policy,
        [records[u.strip().upper()] for u in present],
        population.as_of,
        [worked_out.get(u) for u in present],
    )
    own = notes or {}
    return {
        uscc: orjson.dumps({**x, **extra, **own.get(uscc, {})}, default=str).decode()
        for uscc, x in zip(present, kept, strict=True)
    }


def apply_ledger(
    session: Session, policy: Policy, found: dict[str, Decision], as_of: dt.date
) -> dict[str, dict[str, Any]]:
    """The decisions against the payout ledger (``chanye.policy.ledger``): a past winner of a
    one-off benefit, or one paid a benefit of a named kind, is dropped; a cap over what was paid
    lowers the amount. Returns, by USCC, what the evidence says of it."""
    paid = ledger.payments_for(session, policy, found)
    said: dict[str, dict[str, Any]] = {}
    for uscc, payments in paid.items():
        decision = found[uscc]
        limited = ledger.limit(policy, decision.amount, payments, as_of)
        said[uscc] = {
            "ledger": {
                "notes": list(limited.notes),
                "blocked": limited.blocked,
                "amount": limited.amount,
            }
        }
        if limited.blocked:
            del found[uscc]
        elif limited.amount is not None:
            found[uscc] = Decision(
                decision.rid, limited.amount, decision.needs_data, decision.change_id
            )
    return said


def explain_paid(
    session: Session, population: Population, policy: Policy, uscc: str
) -> Explanation | None:
    """One enterprise's decision explained as its push would be: a candidate is read against
    the payout ledger (``apply_ledger``), so a past winner of a one-off benefit is explained as
    not paid again, not as eligible. None: no such enterprise."""
    explained = explain(population, policy, uscc)
    if (
        explained is None
        or explained.founded_on is not None
        or not explained.valid
        or any(c.outcome == FAILS for c in explained.conditions)
    ):
        return explained  # no candidate: nothing the ledger could change
    key = uscc.strip().upper()
    row = population.view.rows_of([key])[key]
    found = {key: Decision(row, explained.amount, explained.needs_data, explained.source_change)}
    said = apply_ledger(session, policy, found, population.as_of)
    if key not in said:
        return explained
    record = population.records([key], policy, {key: row})[key]
    return explain_record(policy, record, uscc, population.as_of, said[key])


def _known(known: Candidates | None, usccs: list[str], rows: dict[str, int]) -> dict[str, Known]:
    """What the engine worked out for those of ``usccs`` among the candidates."""
    if known is None:
        return {}
    asked = [u for u in usccs if u in rows]
    wanted = np.array([rows[u] for u in asked], dtype=np.int64)
    at = np.minimum(np.searchsorted(known.rows, wanted), max(len(known.rows) - 1, 0))
    inside = known.rows[at] == wanted if len(known.rows) else np.zeros(len(asked), bool)
    places = {u: int(i) for u, i, ok in zip(asked, at.tolist(), inside.tolist(), strict=True) if ok}
    return dict(zip(places, known_at(known, list(places.values())), strict=True))


@collector_paused()  # thousands of pushes and explanations at once: see chanye.batching
def run_matching(
    session: Session,
    version: PolicyVersion,
    population: Population,
    actor: Actor,
    known: Candidates | None = None,
) -> PolicyRun:
    """Match a published version over the population and reconcile its pushes (idempotent).
    ``known``: the version's candidates, when worked out already with others' (``candidates_all``:
    policies side by side on every core)."""
    if version.status != PUBLISHED:
        raise WorkflowRefusedError("只有已发布的政策才能匹配推送", "only a published version runs")
    policy = policy_of(version)
    previous = last_run(session, version.id)
    change = change_in_force(session)
    run = PolicyRun(
        policy_version_id=version.id,
        registry_change_id=change.id if change else None,
        as_of=population.as_of,
        started_at=utcnow(),
        actor=actor.name,
        eligible=0,
        needs_data=0,
        total_amount=0.0,
        gained=0,
        lost=0,
    )
    session.add(run)
    session.flush()
    supplied = verified_values(session, policy)
    found, states = decisions(population, policy, known, supplied)
    notes = apply_ledger(session, policy, found, population.as_of)
    existing = {
        p.uscc: p
        for p in session.scalars(
            select(PolicyPush).where(PolicyPush.policy_version_id == version.id)
        )
    }
    was_eligible = {
        u
        for u, p in existing.items()
        if previous is not None and p.last_run_id == previous.id and not p.needs_data
    }
    changes = _reconcile(session, version, run, found, existing)
    extra = {"run_id": run.id, "registry_change_id": run.registry_change_id}
    rows = {u: d.rid for u, d in found.items()}
    kept = evidence_texts(
        population, policy, changes.to_explain, extra, rows, states, supplied, notes
    )
    for uscc, text in kept.items():
        if uscc in changes.new:
            changes.new[uscc]["explanation"] = text
        else:
            changes.pushes[uscc].explanation = text
    if changes.new:  # one statement for the run's new pushes, not one object each
        # Core, not the ORM's bulk insert: nothing is read back, and it costs half as much.
        session.execute(insert(cast("Table", PolicyPush.__table__)), list(changes.new.values()))
    eligible_now = {u for u, d in found.items() if not d.needs_data}
    run.eligible, run.needs_data = len(eligible_now), len(found) - len(eligible_now)
    run.total_amount = float(sum(d.amount or 0.0 for d in found.values() if not d.needs_data))
    gained, lost = sorted(eligible_now - was_eligible), sorted(was_eligible - eligible_now)
    run.gained, run.lost, run.finished_at = len(gained), len(lost), utcnow()
    record(
        session,
        actor,
        "policy.run",
        "policy_version",
        str(version.id),
        after={
            "run_id": run.id,
            "policy_id": version.policy_id,
            "version": version.version,
            "as_of": run.as_of.isoformat(),
            "registry_change_id": run.registry_change_id,
            "eligible": run.eligible,
            "needs_data": run.needs_data,
            "total_amount": run.total_amount,
            "gained": run.gained,
            "lost": run.lost,
            "created": len(changes.created),
            "revived": len(changes.revived),
            "withdrawn": len(changes.withdrawn),
            "gained_usccs": gained[:AUDIT_SAMPLE],
            "lost_usccs": lost[:AUDIT_SAMPLE],
            "withdrawn_usccs": sorted(changes.withdrawn)[:AUDIT_SAMPLE],
        },
    )
    session.flush()
    return run


@dataclass
class _Changes:
    pushes: dict[str, PolicyPush]  # the version's pushes made before this run, by USCC
    new: dict[str, dict[str, Any]] = field(default_factory=dict)  # rows of the new pushes
    created: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)  # withdrawn before, pushed again now
    withdrawn: list[str] = field(default_factory=list)
    to_explain: list[str] = field(default_factory=list)  # evidence to (re)write


def _reconcile(
    session: Session,
    version: PolicyVersion,
    run: PolicyRun,
    found: dict[str, Decision],
    existing: dict[str, PolicyPush],
) -> _Changes:
    """Pushes for this run's decisions: one per enterprise, decisions of people left alone."""
    now = run.started_at
    changes = _Changes(dict(existing))
    for uscc, decision in found.items():
        push = existing.get(uscc)
        if push is None:
            changes.new[uscc] = {
                "policy_version_id": version.id,
                "policy_id": version.policy_id,
                "uscc": uscc,
                "amount": decision.amount,
                "status": PUSHED,
                "needs_data": decision.needs_data,
                "explanation": "{}",
                "source_change_id": decision.change_id,
                "first_run_id": run.id,
                "last_run_id": run.id,
                "created_at": now,
                "updated_at": now,
            }
            changes.created.append(uscc)
            changes.to_explain.append(uscc)
            continue
        push.last_run_id = run.id
        was_withdrawn = push.status == WITHDRAWN
        if was_withdrawn:  # qualifies again: pushed again
            push.status = PUSHED
            changes.revived.append(uscc)
        if push.status != PUSHED:
            continue  # decided: the amount and evidence of the decision stay
        now_values = (decision.amount, decision.needs_data, decision.change_id)
        if was_withdrawn or (push.amount, push.needs_data, push.source_change_id) != now_values:
            push.amount, push.needs_data, push.source_change_id = now_values
            push.updated_at = now
            changes.to_explain.append(uscc)
    for uscc, push in existing.items():
        if uscc not in found and push.status == PUSHED:
            push.status, push.updated_at = WITHDRAWN, now
            changes.withdrawn.append(uscc)
            changes.to_explain.append(uscc)  # the evidence now says which condition fails
    return changes


def redecide(
    session: Session, push: PolicyPush, version: PolicyVersion, population: Population
) -> None:
    """One push decided again now (its application was verified): eligible with an amount,
    still needing data, or withdrawn with the condition it fails in its evidence."""
    policy = policy_of(version)
    supplied = {u: v for u, v in verified_values(session, policy).items() if u == push.uscc}
    # This enterprise alone: the whole population's run would decide the same, city-wide.
    decided = decide_one(population, policy, push.uscc, supplied)
    found = {} if decided is None else {push.uscc: decided}
    notes = apply_ledger(session, policy, found, population.as_of)
    decision = found.get(push.uscc)
    if decision is None:
        push.status = WITHDRAWN
    else:
        push.amount, push.needs_data = decision.amount, decision.needs_data
        push.source_change_id = decision.change_id
    push.updated_at = utcnow()
    extra = {"run_id": push.last_run_id, "registry_change_id": push.source_change_id}
    texts = evidence_texts(population, policy, [push.uscc], extra, None, None, supplied, notes)
    push.explanation = texts.get(push.uscc, push.explanation)


def rerun_published(session: Session, population: Population, actor: Actor) -> list[PolicyRun]:
    """Run every published policy again (after the registry changed)."""
    versions = session.scalars(
        select(PolicyVersion).where(PolicyVersion.status == PUBLISHED).order_by(PolicyVersion.id)
    ).all()
    found = candidates_all(population, [policy_of(v) for v in versions])
    with population.view.keeping_row_groups():  # the runs' records: each group read once
        return [
            run_matching(session, version, population, actor, known)
            for version, known in zip(versions, found, strict=True)
        ]


def last_run(session: Session, version_id: int) -> PolicyRun | None:
    return session.scalar(
        select(PolicyRun)
        .where(PolicyRun.policy_version_id == version_id)
        .order_by(PolicyRun.id.desc())
        .limit(1)
    )


def latest_runs(session: Session, version_ids: list[int]) -> dict[int, PolicyRun]:
    """The newest run of each version."""
    if not version_ids:
        return {}
    newest = (
        select(func.max(PolicyRun.id))
        .where(PolicyRun.policy_version_id.in_(version_ids))
        .group_by(PolicyRun.policy_version_id)
    )
    runs = session.scalars(select(PolicyRun).where(PolicyRun.id.in_(newest))).all()
    return {run.policy_version_id: run for run in runs}


# --- what people see ------------------------------------------------------------------------


def published_versions(session: Session) -> list[PolicyVersion]:
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.status == PUBLISHED)
            .order_by(PolicyVersion.published_at.desc(), PolicyVersion.id.desc())
        )
    )


def all_versions(session: Session) -> list[PolicyVersion]:
    return list(
        session.scalars(
            select(PolicyVersion).order_by(PolicyVersion.policy_id, PolicyVersion.version.desc())
        )
    )


def versions_of(session: Session, policy_id: str) -> list[PolicyVersion]:
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.policy_id == policy_id)
            .order_by(PolicyVersion.version.desc())
        )
    )


def current_version(versions: list[PolicyVersion], drafts_too: bool) -> PolicyVersion | None:
    """The published version, else (for staff) the newest one."""
    published = next((v for v in versions if v.status == PUBLISHED), None)
    if published is not None or not drafts_too:
        return published
    return versions[0] if versions else None


def pushes_for(session: Session, uscc: str) -> list[tuple[PolicyPush, PolicyVersion]]:
    """An enterprise's pushes, newest first, with their policy versions."""
    rows = session.execute(
        select(PolicyPush, PolicyVersion)
        .join(PolicyVersion, PolicyVersion.id == PolicyPush.policy_version_id)
        .where(PolicyPush.uscc == uscc.strip().upper())
        .order_by(PolicyPush.created_at.desc(), PolicyPush.id.desc())
    ).all()
    return [(push, version) for push, version in rows]


def pending_push_usccs(session: Session) -> list[str]:
    """The enterprise of every undecided push of a published version (one entry per push)."""
    return list(
        session.scalars(
            select(PolicyPush.uscc)
            .join(PolicyVersion, PolicyVersion.id == PolicyPush.policy_version_id)
            .where(PolicyPush.status == PUSHED, PolicyVersion.status == PUBLISHED)
        )
    )


def evidence_of(push: PolicyPush) -> dict[str, Any]:
    """What the push keeps of its decision (``explain.evidence``): the enterprise's name, the
    values read, the outcomes, the amount."""
    loaded: dict[str, Any] = json.loads(push.explanation or "{}")
    return loaded


def explanation_of(push: PolicyPush, version: PolicyVersion) -> dict[str, Any]:
    """The push's explanation in the words of its version (each clause, the values read, the
    outcome; the amount's arithmetic)."""
    kept = evidence_of(push)
    return expanded(policy_of(version), kept, push.uscc) if kept else {}


# --- the enterprise decides ----------------------------------------------------------------


def confirm(session: Session, push: PolicyPush, account: Account, actor: Actor) -> None:
    """确认享受: the enterprise accepts the benefit (its own push, still undecided)."""
    _decide(session, push, account, actor, CONFIRMED)


def decline(session: Session, push: PolicyPush, account: Account, actor: Actor) -> None:
    """放弃: the enterprise declines the benefit."""
    _decide(session, push, account, actor, DECLINED)


def check_own_push(
    session: Session, push: PolicyPush, account: Account, actor: Actor, action: str
) -> None:
    """Only the enterprise's own push: another's is refused (audited) as if it did not exist."""
    own = binding.verified_uscc(session, account)
    if own != push.uscc:
        record(
            session,
            actor,
            action,
            "policy_push",
            str(push.id),
            after={
                "uscc": push.uscc,
                "account_uscc": account.enterprise_uscc,
                "verified_uscc": own,
            },
            result="refused",
        )
        raise NotYourPushError()


def _decide(session: Session, push: PolicyPush, account: Account, actor: Actor, to: str) -> None:
    action = "policy.push.confirm" if to == CONFIRMED else "policy.push.decline"
    check_own_push(session, push, account, actor, action)
    version = session.get(PolicyVersion, push.policy_version_id)
    if version is None or version.status != PUBLISHED:
        raise WorkflowRefusedError("该政策版本已失效，不能再确认或放弃", "the version has expired")
    if push.status != PUSHED:
        raise WorkflowRefusedError(
            f"这条推送{PUSH_LABELS[push.status]}，不能再更改", "this push is no longer open"
        )
    if to == CONFIRMED and push.needs_data:
        raise WorkflowRefusedError(
            "尚缺部分数据，补充后经重新匹配符合条件方可确认享受",
            "data is missing: it cannot be confirmed yet",
        )
    before = {"status": PUSHED, "amount": push.amount}
    if to == CONFIRMED:
        _check_no_double_benefit(session, push, version)
        push.amount = _within_cap(session, push, version)
    now = utcnow()
    push.status, push.decided_at, push.decided_by, push.updated_at = to, now, actor.name, now
    if to == CONFIRMED:
        instalment_plans.plan(
            session, push, policy_of(version), aware(now).astimezone(BEIJING).date()
        )
    record(
        session,
        actor,
        action,
        "policy_push",
        str(push.id),
        before=before,
        after={
            "status": to,
            "uscc": push.uscc,
            "policy_id": push.policy_id,
            "version_id": push.policy_version_id,
            "amount": push.amount,
        },
    )


def _within_cap(session: Session, push: PolicyPush, version: PolicyVersion) -> float | None:
    """同一企业累计不超过: with a ``cap_group``, what is still payable after the enterprise's
    benefits of the same group: its confirmed pushes (in the order they were confirmed) and what
    the ledger holds of the group's policies from before the platform, within the validity."""
    policy = policy_of(version)
    if policy.cap_group is None or push.amount is None:
        return push.amount
    group, cap = policy.cap_group
    members = group_members(session, lambda p: p.cap_group[0] if p.cap_group else None, group)
    others = [
        other
        for other, _other_version in pushes_for(session, push.uscc)
        if other.status == CONFIRMED and other.id != push.id and other.policy_id in members
    ]
    planned = instalment_plans.instalments_of(session, [o.id for o in others])
    confirmed = sum(
        instalment_plans.committed(other, planned.get(other.id, [])) for other in others
    )
    imported = ledger.imported_payments(session, [push.uscc], members).get(push.uscc, [])
    spent = confirmed + sum(p.amount for p in ledger.within_validity(policy, imported))
    return max(0.0, min(push.amount, cap - spent))


def _check_no_double_benefit(session: Session, push: PolicyPush, version: PolicyVersion) -> None:
    """不重复享受: within a policy's exclusive group an enterprise takes one benefit only: none
    confirmed under another policy of the group, nor paid by one before the platform."""
    policy = policy_of(version)
    group = policy.exclusive_group
    if group is None:
        return
    for other, other_version in pushes_for(session, push.uscc):
        if (
            other.status == CONFIRMED
            and other.policy_id != push.policy_id
            and policy_of(other_version).exclusive_group == group
        ):
            raise WorkflowRefusedError(
                f"已确认享受同类政策“{other_version.title}”，按规定不重复享受",
                f"no double benefit: {other.policy_id} is already confirmed",
            )
    rivals = group_members(session, lambda p: p.exclusive_group, group)
    rivals.pop(push.policy_id, None)
    imported = ledger.imported_payments(session, [push.uscc], rivals).get(push.uscc, [])
    for paid in ledger.within_validity(policy, imported):
        raise WorkflowRefusedError(
            f"已于 {paid.paid_on} 获同类政策“{rivals[paid.policy_id]}”奖补"
            f" {format_yuan(paid.amount)}，按规定不重复享受",
            f"no double benefit: {paid.policy_id} was paid",
        )


def group_members(
    session: Session, group_of: Callable[[Policy], str | None], group: str
) -> dict[str, str]:
    """The policies any of whose versions belongs to ``group`` (a cap or an exclusive group, as
    ``group_of`` reads it from a policy), by id, with the title of the newest such version."""
    members: dict[str, str] = {}
    for version in all_versions(session):  # newest version of each policy first
        if group_of(policy_of(version)) == group:
            members.setdefault(version.policy_id, version.title)
    return members


def exclusive_rivals(pushes: list[tuple[PolicyPush, PolicyVersion]]) -> dict[int, list[str]]:
    """For each push, the titles of the enterprise's other open or confirmed pushes in the same
    exclusive group (of which it may enjoy only one)."""
    groups = {push.id: policy_of(version).exclusive_group for push, version in pushes}
    live = [(p, v) for p, v in pushes if p.status in (PUSHED, CONFIRMED)]
    return {
        push.id: [
            v.title
            for p, v in live
            if p.policy_id != push.policy_id and groups[p.id] == groups[push.id]
        ]
        for push, _version in pushes
        if groups[push.id] is not None
    }


# --- the demo -------------------------------------------------------------------------------


def seed_demo(session: Session, population: Population, actor: Actor) -> list[PolicyRun]:
    """Every demo policy added and published (with its matching run), into an empty table."""
    if session.scalar(select(func.count()).select_from(PolicyVersion)):
        return []
    runs = []
    # Parsed under the names their versions keep, once: adding and publishing reuse the parse.
    policies = [_parse(p.read_text(encoding="utf-8"), p.name) for p in demo_files()]
    found = candidates_all(population, policies)  # side by side, every field read in one pass
    with population.view.keeping_row_groups():  # the runs' records: each group read once
        for policy, known in zip(policies, found, strict=True):
            version = add_draft(session, policy.source_text, Path(policy.source_name).name, actor)
            if has_benefit(version):
                approve_as_system(session, version, "演示政策，随 chanye demo 发布")
            runs.append(publish(session, version, actor, population, known))
    return runs


def last_run_id(session: Session) -> int:
    return int(session.scalar(select(func.max(PolicyRun.id))) or 0)


def runs_after(session: Session, run_id: int) -> int:
    return int(session.scalar(select(func.count()).where(PolicyRun.id > run_id)) or 0)
