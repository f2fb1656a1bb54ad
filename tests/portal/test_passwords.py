from __future__ import annotations

import pytest

from chanye.portal.passwords import (
    check_password,
    common_passwords,
    hash_password,
    needs_rehash,
    verify_password,
)
from chanye.portal.security_profile import DEFAULT_PROFILE, PROFILES, profile_named

LEVEL3 = profile_named(DEFAULT_PROFILE)


def rules(password: str, account: str = "zhangsan") -> set[str]:
    return {p.rule for p in check_password(password, account, LEVEL3)}


def test_level3_is_the_default_and_sets_the_limits() -> None:
    assert DEFAULT_PROFILE == "等保三级"
    assert (LEVEL3.password_min_length, LEVEL3.password_min_classes) == (10, 3)
    assert (
        LEVEL3.lockout_failures,
        LEVEL3.lockout_window_minutes,
        LEVEL3.idle_timeout_minutes,
    ) == (5, 15, 30)
    assert LEVEL3.password_max_age_days == 90 and LEVEL3.staff_two_factor
    with pytest.raises(ValueError, match="未知的安全配置"):
        profile_named("等保九级")
    assert set(PROFILES) == {"等保三级", "等保二级"}


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("Ab1!xyz", {"length"}),
        ("abcdefghijk", {"classes"}),
        ("abcdefgh12", {"classes"}),
        ("Zhangsan#2025x", {"account"}),
        ("Password123!", {"common"}),
        ("qwerty123456", {"classes", "common"}),
        ("广州产业Aa2025", set()),  # Chinese characters count as symbols
        ("Tq7#vLm2pW", set()),
    ],
)
def test_password_rules(password: str, broken: set[str]) -> None:
    assert rules(password) == broken


def test_every_problem_has_a_chinese_and_english_reason() -> None:
    problems = check_password("zhangsan", "zhangsan", LEVEL3)
    assert {p.rule for p in problems} == {"length", "classes", "account"}
    assert all(p.zh and p.en and " / " in str(p) for p in problems)


def test_common_list_is_substantial() -> None:
    assert len(common_passwords()) > 30_000 and "woaini1314" in common_passwords()


def test_argon2id_hash_verifies_and_rejects() -> None:
    stored = hash_password("Tq7#vLm2pW")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "Tq7#vLm2pW")
    assert not verify_password(stored, "Tq7#vLm2pw")
    assert not verify_password("not a hash", "Tq7#vLm2pW")
    assert not needs_rehash(stored)
