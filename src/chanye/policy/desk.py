"""The policy office's desk: what waits for it (drafts to review, pushes no one has decided on,
pushes no account receives) and what its last runs did."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chanye.policy.notices import unreachable_count
from chanye.policy.workflow import (
    DRAFT,
    PUBLISHED,
    PUSHED,
    awaits_approval,
)
from chanye.store.models import PolicyPush, PolicyRun, PolicyVersion


@dataclass(frozen=True)
class Draft:
    version: PolicyVersion
    awaits_approval: bool  # 双人复核: a benefit no second person has approved yet


@dataclass(frozen=True)
class Desk:
    drafts: list[Draft]  # oldest first: the longest waiting comes first
    runs: list[tuple[PolicyRun, PolicyVersion]]  # newest first
    undecided: int  # pushes of published versions the enterprises have not decided on
    unreachable: int  # of those, pushes no account receives: the office tells them offline


def desk(session: Session, runs_shown: int = 5) -> Desk:
    drafts = session.scalars(
        select(PolicyVersion).where(PolicyVersion.status == DRAFT).order_by(PolicyVersion.id)
    ).all()
    runs = session.execute(
        select(PolicyRun, PolicyVersion)
        .join(PolicyVersion, PolicyVersion.id == PolicyRun.policy_version_id)
        .order_by(PolicyRun.id.desc())
        .limit(runs_shown)
    ).all()
    undecided = session.scalar(
        select(func.count())
        .select_from(PolicyPush)
        .join(PolicyVersion, PolicyVersion.id == PolicyPush.policy_version_id)
        .where(PolicyPush.status == PUSHED, PolicyVersion.status == PUBLISHED)
    )
    return Desk(
        drafts=[Draft(v, awaits_approval(v)) for v in drafts],
        runs=[(run, version) for run, version in runs],
        undecided=int(undecided or 0),
        unreachable=unreachable_count(session),
    )
