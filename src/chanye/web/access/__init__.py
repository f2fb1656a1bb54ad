"""Access control: casbin reads one model and one policy file; routes declare what they need.

A route declares its need with ``Depends(requires("registry", "read"))`` (or the ``Allowed``
aliases below). The requirement is a ``Requirement`` object, so tests can find every route's need
and walk every role against it.
"""

from __future__ import annotations

import threading
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


# casbin evaluates its matcher with ``ast.parse``, which CPython 3.11 does not make safe in
# several threads at once (gh-106905: a spurious SystemError, seen here as 500s under load). The
# policy file fixes every decision, so each is worked out once, one at a time, then remembered.
_ENFORCING = threading.Lock()


@cache
def allows(role: str, obj: str, act: str) -> bool:
    with _ENFORCING:
        return bool(enforcer().enforce(role, obj, act))


def roles() -> tuple[str, ...]:
    """Every role a person can hold (the policy's internal groups ``user``/``staff`` are not)."""
    return tuple(ROLE_LABELS)
