"""Reviewing what someone submitted (a membership application, an enterprise binding): a
rejection must say why, briefly enough to be mailed."""

from __future__ import annotations

from chanye.problems import Problem

MAX_REASON = 2000


def reason_problems(decision: str, reason: str) -> list[Problem]:
    """What is wrong with the reason given for ``decision`` (a rejection needs one)."""
    problems = []
    if decision == "reject" and not reason:
        problems.append(Problem("reason", "驳回须填写理由", "a reason is required to reject"))
    if len(reason) > MAX_REASON:
        problems.append(
            Problem(
                "reason",
                f"理由不能超过 {MAX_REASON} 个字",
                f"reason: at most {MAX_REASON} characters",
            )
        )
    return problems
