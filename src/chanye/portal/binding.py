"""Who may act for an enterprise: an account's binding to the enterprise it claims (its USCC).

A USCC is public, so claiming one at registration opens nothing. The binding of (account, USCC)
is pending (待核验) until it is verified (已核验) by one of:

- staff, from the business licence (营业执照) and an authorisation letter (授权委托书) signed by
  the legal representative, uploaded by the account (approve or reject with a reason);
- the province's unified identity (统一身份认证, OIDC), whose token carries the same USCC;
- a membership application approved by staff (the licence was checked there);
- an invitation by the enterprise's administrator (企业管理员);
- an administrator opening the account for the enterprise (``chanye account create --uscc``).

The first verified account of an enterprise is its administrator; others are its members (经办人).
A verified binding can be revoked (已解除) by the enterprise's administrator or by staff.
``verified_uscc`` is the one answer to "which enterprise may this account act for"; every path to
an enterprise's data asks it. Every change is audited in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from chanye.config import Settings
from chanye.portal import documents, emails
from chanye.portal.accounts import find_account
from chanye.portal.mail import MailSettings, deliver_to
from chanye.portal.review import MAX_REASON, reason_problems
from chanye.portal.roles import ENTERPRISE_ROLES
from chanye.problems import Problem, RefusedError
from chanye.store.audit import Actor, record, trail
from chanye.store.models import Account, BindingDocument, EnterpriseBinding, utcnow

PENDING, VERIFIED, REJECTED, REVOKED = "pending", "verified", "rejected", "revoked"
STATE_LABELS = {PENDING: "待核验", VERIFIED: "已核验", REJECTED: "已驳回", REVOKED: "已解除"}
DOCUMENTS, IDENTITY_PROVIDER = "documents", "identity_provider"
MEMBERSHIP, INVITATION, ADMINISTRATOR = "membership", "invitation", "administrator"
METHOD_LABELS = {
    DOCUMENTS: "工作人员核验材料",
    IDENTITY_PROVIDER: "统一身份认证",
    MEMBERSHIP: "入会审核",
    INVITATION: "企业管理员邀请",
    ADMINISTRATOR: "系统管理员开设账号",
}
ENTERPRISE_ADMIN, ENTERPRISE_MEMBER = "administrator", "member"
ROLE_LABELS = {ENTERPRISE_ADMIN: "企业管理员", ENTERPRISE_MEMBER: "经办人"}
REQUIRED_DOCUMENTS = (documents.LICENCE, documents.AUTHORISATION)
FOLDER = "bindings"
OBJECT_TYPE = "enterprise_binding"
DECISIONS = {"approve": "批准", "reject": "驳回"}
STEP_LABELS = {
    "binding.submit": "提交核验材料",
    "binding.approve": "核验通过",
    "binding.reject": "驳回",
    "binding.verify": "核验通过",
    "binding.invite": "企业管理员邀请",
    "binding.revoke": "解除绑定",
    "binding.promote": "成为企业管理员",
}


class BindingRefusedError(RefusedError):
    """A binding step the rules refuse."""


def _refused(field_name: str, zh: str, en: str) -> BindingRefusedError:
    return BindingRefusedError([Problem(field_name, zh, en)])


# --- the one question ------------------------------------------------------------------------


def verified_uscc(session: Session, account: Account | None) -> str | None:
    """The USCC this account may act for: the one it claimed, and only once that binding is
    verified. None for everyone else (not logged in, not an enterprise, pending, rejected,
    revoked)."""
    if account is None or account.role not in ENTERPRISE_ROLES or not account.enterprise_uscc:
        return None
    return session.scalar(
        select(EnterpriseBinding.uscc).where(
            EnterpriseBinding.account_id == account.id,
            EnterpriseBinding.uscc == account.enterprise_uscc,
            EnterpriseBinding.state == VERIFIED,
        )
    )


def verified_pairs() -> Select[int, str]:
    """(account id, USCC) of every verified binding: ``verified_uscc`` for many accounts at once,
    for queries over many enterprises (whom to tell of new pushes)."""
    return (
        select(EnterpriseBinding.account_id, EnterpriseBinding.uscc)
        .join(Account, Account.id == EnterpriseBinding.account_id)
        .where(
            EnterpriseBinding.state == VERIFIED,
            Account.enterprise_uscc == EnterpriseBinding.uscc,
            Account.role.in_(ENTERPRISE_ROLES),
        )
    )


def binding_of(session: Session, account: Account) -> EnterpriseBinding | None:
    """The binding of the enterprise this account claims (None: nothing submitted yet)."""
    if not account.enterprise_uscc:
        return None
    return session.scalar(
        select(EnterpriseBinding).where(
            EnterpriseBinding.account_id == account.id,
            EnterpriseBinding.uscc == account.enterprise_uscc,
        )
    )


@dataclass(frozen=True)
class Standing:
    """What the account page says about the account's enterprise."""

    uscc: str | None
    state: str
    binding: EnterpriseBinding | None = None
    colleagues: list[tuple[EnterpriseBinding, Account]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def submitted(self) -> bool:
        """Documents are with staff, waiting for a decision."""
        b = self.binding
        return b is not None and b.state == PENDING and b.method == DOCUMENTS

    @property
    def is_administrator(self) -> bool:
        b = self.binding
        return b is not None and b.state == VERIFIED and b.enterprise_role == ENTERPRISE_ADMIN


def standing(session: Session, account: Account) -> Standing:
    binding = binding_of(session, account)
    state = binding.state if binding is not None else PENDING
    colleagues = colleagues_of(session, account.enterprise_uscc) if state == VERIFIED else []
    return Standing(account.enterprise_uscc, state, binding, colleagues)


def colleagues_of(session: Session, uscc: str | None) -> list[tuple[EnterpriseBinding, Account]]:
    """The accounts verified for this enterprise, its administrator first."""
    if not uscc:
        return []
    rows = session.execute(
        select(EnterpriseBinding, Account)
        .join(Account, Account.id == EnterpriseBinding.account_id)
        .where(EnterpriseBinding.uscc == uscc, EnterpriseBinding.state == VERIFIED)
        .order_by(EnterpriseBinding.enterprise_role, EnterpriseBinding.decided_at)
    ).all()
    return [(binding, account) for binding, account in rows]


# --- verification by staff, from documents ---------------------------------------------------


def submit_documents(
    session: Session,
    settings: Settings,
    account: Account,
    uploads: Sequence[documents.Upload],
    actor: Actor,
) -> EnterpriseBinding:
    """Upload the licence and the authorisation letter for staff to check; raise
    BindingRefusedError listing every problem (nothing written)."""
    binding = binding_of(session, account)
    problems = _claim_problems(account, binding)
    if binding is not None and binding.state == PENDING and binding.method == DOCUMENTS:
        problems.append(
            Problem(
                "account",
                "核验材料已提交，正在等待工作人员核验",
                "documents are already waiting for a decision",
            )
        )
    problems += documents.required_problems(uploads, REQUIRED_DOCUMENTS, settings.max_document_mb)
    if problems:
        raise BindingRefusedError(problems)
    binding = binding or _new_binding(session, account)
    before = _state_of(binding)
    binding.state, binding.method = PENDING, DOCUMENTS
    binding.submitted_at = binding.updated_at = utcnow()
    binding.reason = binding.decided_by = binding.decided_at = binding.enterprise_role = None
    stored = documents.write_files(session, uploads, settings.uploads_dir / FOLDER)
    session.add_all(BindingDocument(binding_id=binding.id, **asdict(s)) for s in stored)
    record(
        session,
        actor,
        "binding.submit",
        OBJECT_TYPE,
        str(binding.id),
        before=before,
        after={
            **_state_of(binding),
            "documents": [
                {
                    "kind": s.kind,
                    "name": s.original_name,
                    "type": s.content_type,
                    "size": s.size,
                    "sha256": s.sha256,
                }
                for s in stored
            ],
        },
    )
    return binding


def _claim_problems(account: Account, binding: EnterpriseBinding | None) -> list[Problem]:
    if account.role not in ENTERPRISE_ROLES or not account.enterprise_uscc:
        return [
            Problem(
                "account",
                "只有登记了统一社会信用代码的企业账号可以绑定企业",
                "only an enterprise account with a USCC can be bound",
            )
        ]
    if binding is not None and binding.state == VERIFIED:
        return [Problem("account", "本账号与企业的绑定已核验，无需再次核验", "already verified")]
    return []


def _new_binding(session: Session, account: Account) -> EnterpriseBinding:
    binding = EnterpriseBinding(
        account_id=account.id,
        uscc=account.enterprise_uscc,
        state=PENDING,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(binding)
    session.flush()
    return binding


def _state_of(binding: EnterpriseBinding) -> dict[str, str | None]:
    return {
        "state": binding.state,
        "method": binding.method,
        "uscc": binding.uscc,
        "account_id": str(binding.account_id),
        "enterprise_role": binding.enterprise_role,
    }


def decide(
    session: Session,
    settings: Settings,
    binding: EnterpriseBinding,
    decision: str,
    reason: str,
    actor: Actor,
) -> None:
    """批准 or 驳回 documents waiting for a decision; rejection needs a reason. The applicant is
    told by e-mail either way."""
    session.refresh(binding, with_for_update=True)  # two reviewers: one wins, one is told
    reason = reason.strip()
    problems = _decision_problems(binding, decision, reason)
    if problems:
        raise BindingRefusedError(problems)
    account = session.get(Account, binding.account_id)
    if decision == "approve":
        _verify(session, binding, DOCUMENTS, actor, action="binding.approve")
        if account is not None:
            _tell_verified(settings, account, binding)
        return
    _close(session, binding, REJECTED, reason, actor)
    if account is not None:
        _send(
            settings,
            account,
            emails.binding_rejected(account.display_name, reason, _link(settings)),
        )


def _decision_problems(binding: EnterpriseBinding, decision: str, reason: str) -> list[Problem]:
    if decision not in DECISIONS:
        return [Problem("decision", "请选择批准或驳回", "decision must be approve or reject")]
    problems = []
    if binding.state != PENDING or binding.method != DOCUMENTS:
        problems.append(
            Problem(
                "status",
                f"该绑定{STATE_LABELS[binding.state]}，没有待核验的材料",
                f"nothing waits for a decision ({binding.state})",
            )
        )
    return problems + reason_problems(decision, reason)


def _verify(
    session: Session,
    binding: EnterpriseBinding,
    method: str,
    actor: Actor,
    action: str = "binding.verify",
    subject: str | None = None,
) -> None:
    """Make a binding verified; its enterprise's first verified account is its administrator."""
    before = _state_of(binding)
    has_admin = session.scalar(
        select(EnterpriseBinding.id)
        .where(
            EnterpriseBinding.uscc == binding.uscc,
            EnterpriseBinding.id != binding.id,
            EnterpriseBinding.state == VERIFIED,
            EnterpriseBinding.enterprise_role == ENTERPRISE_ADMIN,
        )
        .limit(1)
    )
    binding.state, binding.method, binding.subject = VERIFIED, method, subject
    binding.enterprise_role = ENTERPRISE_MEMBER if has_admin else ENTERPRISE_ADMIN
    _settle(session, binding, None, actor, action, before)


# --- the other ways to verify ----------------------------------------------------------------


def verify_by_membership(
    session: Session, account: Account, uscc: str, actor: Actor
) -> EnterpriseBinding | None:
    """An approved membership application verifies the binding of the enterprise it names (its
    licence was checked by staff there). Nothing happens for an account claiming another USCC."""
    if account.enterprise_uscc != uscc:
        return None
    binding = binding_of(session, account) or _new_binding(session, account)
    if binding.state != VERIFIED:
        _verify(session, binding, MEMBERSHIP, actor)
    return binding


def verify_by_administrator(session: Session, account: Account, actor: Actor) -> EnterpriseBinding:
    """An administrator opened this account for its enterprise (``chanye account create``)."""
    binding = binding_of(session, account) or _new_binding(session, account)
    if binding.state != VERIFIED:
        _verify(session, binding, ADMINISTRATOR, actor)
    return binding


@dataclass(frozen=True)
class Identity:
    """What a verified ID token of the identity provider says (claims already checked)."""

    issuer: str
    subject: str
    uscc: str | None


def verify_by_identity(
    session: Session, settings: Settings, account: Account, identity: Identity, actor: Actor
) -> EnterpriseBinding:
    """The identity provider vouched for an enterprise: the binding is verified at once when the
    token's USCC is the one this account claimed. Any other USCC, or none, is refused (audited):
    the provider's word binds the enterprise it names, not the one typed at registration."""
    binding = binding_of(session, account)
    problems = _claim_problems(account, binding)
    claimed = (identity.uscc or "").strip().upper()
    if not problems and not claimed:
        problems.append(
            Problem(
                "uscc",
                "统一身份认证未提供企业的统一社会信用代码，无法核验",
                "the token carries no USCC",
            )
        )
    elif not problems and claimed != account.enterprise_uscc:
        problems.append(
            Problem(
                "uscc",
                f"统一身份认证登录的企业（{claimed}）与本账号登记的企业"
                f"（{account.enterprise_uscc}）不一致，未绑定",
                "the token's USCC is not the account's",
            )
        )
    if problems:
        record(
            session,
            actor,
            "binding.identity",
            OBJECT_TYPE,
            str(binding.id) if binding else None,
            after={
                "issuer": identity.issuer,
                "subject": identity.subject,
                "token_uscc": claimed or None,
                "account_uscc": account.enterprise_uscc,
                "problems": [p.en for p in problems],
            },
            result="refused",
        )
        raise BindingRefusedError(problems)
    binding = binding or _new_binding(session, account)
    _verify(session, binding, IDENTITY_PROVIDER, actor, subject=identity.subject)
    _tell_verified(settings, account, binding)
    return binding


# --- the enterprise's administrator ----------------------------------------------------------


def invite(
    session: Session, settings: Settings, inviter: Account, who: str, actor: Actor
) -> EnterpriseBinding:
    """The enterprise's administrator binds another account registered with the same USCC
    (found by its username, e-mail or mobile); that account is verified at once, as a member."""
    uscc = _administered_uscc(session, inviter)
    invitee = find_account(session, who)
    if invitee is None or invitee.role not in ENTERPRISE_ROLES or invitee.enterprise_uscc != uscc:
        raise _refused(
            "invitee",
            f"没有找到以本企业统一社会信用代码（{uscc}）注册的企业账号，"
            "请对方先用本企业的代码注册并确认邮箱",
            "no enterprise account of this USCC",
        )
    binding = binding_of(session, invitee) or _new_binding(session, invitee)
    if binding.state == VERIFIED:
        raise _refused("invitee", f"账号 {invitee.username} 已绑定本企业", "already bound")
    _verify(session, binding, INVITATION, actor, action="binding.invite")
    _tell_verified(settings, invitee, binding)
    return binding


def remove(
    session: Session, settings: Settings, remover: Account, binding_id: int, actor: Actor
) -> EnterpriseBinding:
    """The enterprise's administrator unbinds another account of the enterprise."""
    uscc = _administered_uscc(session, remover)
    binding = session.get(EnterpriseBinding, binding_id)
    if binding is None or binding.uscc != uscc or binding.state != VERIFIED:
        raise _refused("binding", "本企业没有这个已绑定的账号", "no such binding of the enterprise")
    if binding.account_id == remover.id:
        raise _refused(
            "binding",
            "企业管理员不能解除自己的绑定，如需移交请联系协会秘书处",
            "the administrator cannot unbind itself",
        )
    _revoke(session, settings, binding, "企业管理员解除绑定", actor)
    return binding


def _administered_uscc(session: Session, account: Account) -> str:
    binding = binding_of(session, account)
    if binding is None or binding.state != VERIFIED or binding.enterprise_role != ENTERPRISE_ADMIN:
        raise _refused(
            "account",
            "只有本企业已核验的企业管理员可以邀请或解除其他账号",
            "only the enterprise's administrator may do this",
        )
    return binding.uscc


# --- staff ------------------------------------------------------------------------------------


def revoke(
    session: Session, settings: Settings, binding: EnterpriseBinding, reason: str, actor: Actor
) -> None:
    """Staff end a verified binding (a wrong approval, an employee who left), with a reason."""
    session.refresh(binding, with_for_update=True)
    reason = reason.strip()
    if binding.state != VERIFIED:
        raise _refused("status", f"该绑定{STATE_LABELS[binding.state]}，不能解除", "not verified")
    if not reason or len(reason) > MAX_REASON:
        raise _refused(
            "reason",
            f"解除须填写理由（不超过 {MAX_REASON} 个字）",
            "a reason is required to revoke",
        )
    _revoke(session, settings, binding, reason, actor)


def _revoke(
    session: Session, settings: Settings, binding: EnterpriseBinding, reason: str, actor: Actor
) -> None:
    was_admin = binding.enterprise_role == ENTERPRISE_ADMIN
    _close(session, binding, REVOKED, reason, actor)
    if was_admin:
        _promote_successor(session, binding.uscc, actor)
    account = session.get(Account, binding.account_id)
    if account is not None:
        _send(
            settings, account, emails.binding_revoked(account.display_name, reason, _link(settings))
        )


def _close(
    session: Session, binding: EnterpriseBinding, state: str, reason: str, actor: Actor
) -> None:
    """Reject (documents waiting) or revoke (verified) a binding, with the reason, audited."""
    before = _state_of(binding)
    binding.state = state
    action = "binding.reject" if state == REJECTED else "binding.revoke"
    _settle(session, binding, reason, actor, action, before)


def _settle(
    session: Session,
    binding: EnterpriseBinding,
    reason: str | None,
    actor: Actor,
    action: str,
    before: dict[str, str | None],
) -> None:
    """Who decided, when and why; audited with the state before and after."""
    binding.reason, binding.decided_by = reason, actor.name
    binding.decided_at = binding.updated_at = utcnow()
    after = {**_state_of(binding), **({"reason": reason} if reason else {})}
    record(session, actor, action, OBJECT_TYPE, str(binding.id), before=before, after=after)


def _promote_successor(session: Session, uscc: str, actor: Actor) -> None:
    """With its administrator gone, the enterprise's longest-verified member takes over."""
    successor = session.scalar(
        select(EnterpriseBinding)
        .where(EnterpriseBinding.uscc == uscc, EnterpriseBinding.state == VERIFIED)
        .order_by(EnterpriseBinding.decided_at, EnterpriseBinding.id)
        .limit(1)
    )
    if successor is not None:
        successor.enterprise_role = ENTERPRISE_ADMIN
        record(
            session,
            actor,
            "binding.promote",
            OBJECT_TYPE,
            str(successor.id),
            before={"enterprise_role": ENTERPRISE_MEMBER},
            after={"enterprise_role": ENTERPRISE_ADMIN},
        )


@dataclass(frozen=True)
class QueueEntry:
    binding: EnterpriseBinding
    account: Account


def review_queue(session: Session, state: str = PENDING, limit: int = 200) -> list[QueueEntry]:
    """Bindings for reviewers: by default those with documents waiting, oldest first."""
    stmt = (
        select(EnterpriseBinding, Account)
        .join(Account, Account.id == EnterpriseBinding.account_id)
        .where(EnterpriseBinding.state == state)
    )
    if state == PENDING:
        stmt = stmt.where(EnterpriseBinding.method == DOCUMENTS).order_by(
            EnterpriseBinding.submitted_at, EnterpriseBinding.id
        )
    else:
        stmt = stmt.order_by(EnterpriseBinding.updated_at.desc(), EnterpriseBinding.id.desc())
    return [QueueEntry(b, a) for b, a in session.execute(stmt.limit(limit)).all()]


def state_counts(session: Session) -> dict[str, int]:
    counted = session.execute(
        select(EnterpriseBinding.state, func.count()).group_by(EnterpriseBinding.state)
    ).all()
    return {state: int(count) for state, count in counted}


def documents_of(session: Session, binding_id: int) -> list[BindingDocument]:
    return list(
        session.scalars(
            select(BindingDocument)
            .where(BindingDocument.binding_id == binding_id)
            .order_by(BindingDocument.id.desc())
        )
    )


@dataclass(frozen=True)
class Step:
    at: dt.datetime
    label: str
    actor: str
    result: str


def timeline(session: Session, binding_id: int) -> list[Step]:
    entries = trail(session, OBJECT_TYPE, str(binding_id), STEP_LABELS)
    return [Step(e.at, STEP_LABELS[e.action], e.actor, e.result) for e in entries]


# --- mail ---------------------------------------------------------------------------------------


def _link(settings: Settings) -> str:
    return f"{settings.site_url}/account/binding"


def _send(settings: Settings, account: Account, mail: emails.Mail) -> None:
    deliver_to(MailSettings.from_settings(settings), account, mail)


def _tell_verified(settings: Settings, account: Account, binding: EnterpriseBinding) -> None:
    how = METHOD_LABELS.get(binding.method or "", "")
    _send(
        settings,
        account,
        emails.binding_verified(account.display_name, how, f"{settings.site_url}/my/policies"),
    )
