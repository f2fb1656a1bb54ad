"""Access control: casbin reads one model and one policy file; routes declare what they need.

A route declares its need with ``Depends(requires("registry", "read"))`` (or the ``Allowed``
aliases below). The requirement is a ``Requirement`` object, so tests can find every route's need
and walk every role against it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import casbin

from chanye.portal.roles import ROLE_LABELS

HERE = Path(__file__).resolve().parent
MODEL_FILE = HERE / "model.conf"
POLICY_FILE = HERE / "policy.csv"


@cache
def enforcer() -> casbin.Enforcer:
    return casbin.Enforcer(str(MODEL_FILE), str(POLICY_FILE))


def allows(role: str, obj: str, act: str) -> bool:
    return bool(enforcer().enforce(role, obj, act))


def roles() -> tuple[str, ...]:
    """Every role a person can hold (the policy's internal groups ``user``/``staff`` are not)."""
    return tuple(ROLE_LABELS)
