"""Enterprise bindings in the domain: the one answer (``verified_uscc``), who becomes the
enterprise's administrator, the set form used for mail, accounts that existed before bindings
(migration 0007), and accounts an administrator opens on the command line."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from chanye.config import Settings
from chanye.portal import binding, documents
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import Account, AuditEntry, EnterpriseBinding, utcnow
from tests.conftest import run_cli
from tests.portal.test_documents import PDF
from tests.registry.factory import uscc

STAFF = Actor("analyst1", "analyst")
PAPERS = [
    documents.Upload(documents.LICENCE, "执照.pdf", PDF),
    documents.Upload(documents.AUTHORISATION, "委托书.pdf", PDF),
]


def account(db: Session, name: str, code: str | None, role: str = "enterprise") -> Account:
    made = Account(
        username=name,
        email=f"{name}@example.cn",
        display_name=name,
        kind="enterprise",
        role=role,
        enterprise_uscc=code,
        password_hash="-",
    )
    db.add(made)
    db.flush()
    return made


def settings_on(database_url: str, tmp_path: Path) -> Settings:
    upgrade(database_url)
    return Settings(data_dir=tmp_path, database_url=database_url)


def test_only_a_verified_binding_answers_and_the_first_is_the_administrator(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_on(database_url, tmp_path)
    with session_scope(database_url) as db:
        first, second = account(db, "first", uscc(1)), account(db, "second", uscc(1))
        individual = account(db, "person", None, role="individual")
        assert (
            binding.verified_uscc(db, first) is None
            and binding.standing(db, first).state == "pending"
        )
        assert (
            binding.verified_uscc(db, individual) is None
            and binding.verified_uscc(db, None) is None
        )
        for claimant in (first, second):
            submitted = binding.submit_documents(
                db, settings, claimant, PAPERS, Actor(claimant.username)
            )
            assert binding.verified_uscc(db, claimant) is None  # documents alone open nothing
            binding.decide(db, settings, submitted, "approve", "", STAFF)
        assert binding.verified_uscc(db, first) == binding.verified_uscc(db, second) == uscc(1)
        roles = {b.account_id: b.enterprise_role for b in db.scalars(select(EnterpriseBinding))}
        assert roles == {first.id: "administrator", second.id: "member"}
        assert set(db.execute(binding.verified_pairs()).all()) == {
            (first.id, uscc(1)),
            (second.id, uscc(1)),
        }
        # An account whose claimed USCC is not the bound one opens nothing (a changed claim).
        first.enterprise_uscc = uscc(2)
        assert binding.verified_uscc(db, first) is None
        assert (first.id, uscc(1)) not in set(db.execute(binding.verified_pairs()).all())


def test_members_keep_their_enterprise_across_the_migration(database_url: str) -> None:
    upgrade(database_url, "0006")
    columns = {
        "email": "",
        "display_name": "x",
        "kind": "enterprise",
        "password_hash": "-",
        "password_changed_at": utcnow(),
        "must_change_password": False,
        "email_confirmed": True,
        "status": "active",
        "created_at": utcnow(),
    }
    with session_scope(database_url) as db:
        for name, role, code in (
            ("m1", "member", uscc(1)),
            ("m2", "member", uscc(1)),
            ("e1", "enterprise", uscc(2)),
            ("m3", "member", uscc(3)),
        ):
            db.execute(
                insert(Account.__table__).values(
                    **{**columns, "email": f"{name}@example.cn"},
                    username=name,
                    role=role,
                    enterprise_uscc=code,
                )
            )
    upgrade(database_url)
    with session_scope(database_url) as db:
        ids = {a.username: a for a in db.scalars(select(Account))}
        assert binding.verified_uscc(db, ids["m1"]) == uscc(1)
        assert binding.verified_uscc(db, ids["m2"]) == uscc(1)
        assert binding.verified_uscc(db, ids["e1"]) is None  # must be verified now
        by_id = {a.id: name for name, a in ids.items()}
        rows = {by_id[b.account_id]: b for b in db.scalars(select(EnterpriseBinding))}
        assert (
            rows["m1"].enterprise_role == "administrator" and rows["m2"].enterprise_role == "member"
        )
        assert rows["m3"].enterprise_role == "administrator" and "e1" not in rows
        assert db.scalar(text("SELECT COUNT(*) FROM identity_logins")) == 0


def test_an_account_an_administrator_opens_on_the_command_line_is_verified(tmp_path: Path) -> None:
    made = run_cli(
        "account",
        "create",
        "firmadmin",
        "--role",
        "enterprise",
        "--email",
        "firm@example.cn",
        "--uscc",
        uscc(5),
        data_dir=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    with session_scope(Settings(data_dir=tmp_path).resolved_database_url) as db:
        firm = db.scalars(select(Account).where(Account.username == "firmadmin")).one()
        assert binding.verified_uscc(db, firm) == uscc(5)
        found = binding.binding_of(db, firm)
        assert found is not None and (found.method, found.enterprise_role) == (
            "administrator",
            "administrator",
        )
        verify = db.scalars(select(AuditEntry).where(AuditEntry.action == "binding.verify")).one()
        assert verify.actor == "cli"
