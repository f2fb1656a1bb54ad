"""`chanye demo` tells how to log in: one account per role, whose printed password (and, for
staff, second-factor key) really logs in. Checked on the demo ``tests/test_cli.py`` prepares (one
demo run serves both: preparing one is among the slowest steps of the suite)."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp

from chanye.config import Settings
from chanye.portal.accounts import authenticate
from chanye.portal.binding import verified_uscc
from chanye.portal.roles import STAFF_ROLES
from chanye.portal.security_profile import PROFILES
from chanye.store.database import session_scope
from chanye.store.models import Account


def assert_logins_work(stdout: str, tmp_path: Path) -> None:
    """The logins ``chanye demo`` printed (run on ``tmp_path``) each really log in."""
    logins = re.findall(
        r"^  (\w+)  (\S+)  (.+?)(?:  动态口令密钥 / TOTP key: ([A-Z2-7]+))?$", stdout, re.M
    )
    assert {name for name, *_ in logins} == {
        "admin",
        "analyst",
        "chainleader",
        "investment",
        "policy",
        "member",
    }
    assert (tmp_path / "demo" / "accounts.txt").stat().st_mode & 0o077 == 0  # owner only
    url = Settings(data_dir=tmp_path).resolved_database_url
    with session_scope(url) as db:
        for name, password, _label, key in logins:
            outcome = authenticate(db, name, password, "10.0.0.1", PROFILES["等保三级"])
            assert outcome.ok, name
            account = db.query(Account).filter_by(username=name).one()
            if account.role in STAFF_ROLES:
                assert key and account.totp_secret == key
                assert pyotp.TOTP(key).verify(pyotp.TOTP(key).now())
            else:
                assert not key
        member = db.query(Account).filter_by(username="member").one()
        assert member.enterprise_uscc  # the demo member is an enterprise of the demo city
        # ...bound to it (verified), so that it sees that enterprise's record and pushes.
        assert verified_uscc(db, member) == member.enterprise_uscc
