"""Access decisions stay right when many request threads ask at once (casbin parses its matcher
with ``ast.parse``, which CPython 3.11 does not make safe across threads: gh-106905)."""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor

import casbin

from chanye.web.access import MODEL_FILE, POLICY_FILE, allows, roles


def _needs() -> list[tuple[str, str]]:
    with POLICY_FILE.open(encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle, skipinitialspace=True) if r and r[0] == "p"]
    return sorted({(obj, act) for _, _, obj, act in rows})


def test_many_threads_asking_at_once_get_the_policys_answers() -> None:
    questions = [(role, obj, act) for role in roles() for obj, act in _needs()]
    reference = casbin.Enforcer(str(MODEL_FILE), str(POLICY_FILE))
    expected = [bool(reference.enforce(*q)) for q in questions]
    assert any(expected) and not all(expected)
    allows.cache_clear()  # every thread finds every decision still to be worked out
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: [allows(*q) for q in questions], range(32)))
    assert all(a == expected for a in answers)
