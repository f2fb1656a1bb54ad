"""Passwords: the profile's rules, with reasons a person can act on, and argon2id hashes."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chanye.portal.security_profile import SecurityProfile

# argon2id with the library's defaults (RFC 9106's second recommended option).
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class PasswordProblem:
    rule: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (zxcvbn's list) plus ones common in China."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    chinese = {
        "woaini1314",
        "woaini520",
        "5201314",
        "qq123456",
        "a123456",
        "aa123456",
        "123456qq",
        "1qaz2wsx",
        "zxcvbnm123",
        "abc123456",
        "1314520",
    }
    return frozenset({*FREQUENCY_LISTS["passwords"], *chinese})


def _classes(password: str) -> int:
    groups = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    found = [any(c in group for c in password) for group in groups]
    found.append(any(not c.isascii() or c in string.punctuation or c == " " for c in password))
    return sum(found)


def check_password(password: str, account: str, profile: SecurityProfile) -> list[PasswordProblem]:
    """Every rule the password breaks (empty: acceptable)."""
    problems = []
    if len(password) < profile.password_min_length:
        problems.append(
            PasswordProblem(
                "length",
                f"密码至少 {profile.password_min_length} 位",
                f"at least {profile.password_min_length} characters",
            )
        )
    if _classes(password) < profile.password_min_classes:
        problems.append(
            PasswordProblem(
                "classes",
                f"密码须包含大写字母、小写字母、数字、符号中的至少 {profile.password_min_classes} 类",
                f"use at least {profile.password_min_classes} of: upper case, lower case, digits, symbols",
            )
        )
    lowered = password.lower()
    if account and account.lower() in lowered:
        problems.append(
            PasswordProblem("account", "密码不能包含账号名", "must not contain the account name")
        )
    stripped = lowered.rstrip(string.digits + string.punctuation)
    if lowered in common_passwords() or (len(stripped) >= 4 and stripped in common_passwords()):
        problems.append(
            PasswordProblem("common", "密码过于常见，容易被猜中", "too common, easily guessed")
        )
    return problems


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's: rehash at next login."""
    return _HASHER.check_needs_rehash(stored_hash)
