"""What would actually be paid (``chanye policy payout``): the formulas' sums after everything
that stands between a formula and a payment.

A run of each policy alone says who qualifies for how much. A payment also depends on the other
policies and the past: within an ``exclusive_group`` an enterprise takes only the higher benefit
(不重复享受); a ``cap_group`` caps what its policies pay one enterprise together; and the payout
ledger (``chanye.policy.ledger``) rules out past winners of a one-off benefit and caps by what was
paid. This works all of that out over the city at once, per policy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from chanye.policy import ledger
from chanye.policy.instalment_plans import ScheduledShare, scheduled_shares
from chanye.policy.model import Policy
from chanye.policy.population import Population, candidates_all


@dataclass
class Payout:
    policy_id: str
    title: str
    eligible: int  # enterprises meeting every condition
    needs_data: int  # 待补充: failing only for missing values
    formula_total: float  # the amounts as the formula gives them
    payable: int = 0  # enterprises left to pay after the limits
    payable_total: float = 0.0
    by_ledger: int = 0  # ruled out or lowered by what was paid before
    by_exclusive_group: int = 0  # took another benefit of the group instead
    by_cap_group: int = 0  # lowered by the group's cap
    # 分期拨付: how the payable total falls into the policy's instalments (empty: paid at once)
    schedule: list[ScheduledShare] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def payouts(session: Session, population: Population, policies: Sequence[Policy]) -> list[Payout]:
    """Each policy's payout over the population on its date, after every limit."""
    found = candidates_all(population, policies)
    usccs = population.usccs
    due: dict[str, dict[str, float]] = defaultdict(dict)  # USCC → policy id → amount
    results = []
    for policy, candidates in zip(policies, found, strict=True):
        eligible = candidates.eligible & ~np.isnan(candidates.amounts)
        result = Payout(
            policy.id,
            policy.title,
            int(candidates.eligible.sum()),
            int(len(candidates.rows) - candidates.eligible.sum()),
            float(np.nansum(candidates.amounts[candidates.eligible])),
        )
        rows = candidates.rows[eligible]
        names = usccs.take(rows).to_pylist()
        paid = ledger.payments_for(session, policy, names)
        for uscc, amount in zip(names, candidates.amounts[eligible].tolist(), strict=True):
            limited = ledger.limit(policy, amount, paid.get(uscc, []), population.as_of)
            if limited.blocked or limited.amount is not None:
                result.by_ledger += 1
            if not limited.blocked:
                due[uscc][policy.id] = amount if limited.amount is None else limited.amount
        results.append(result)
    by_id = {r.policy_id: r for r in results}
    grouped = [p.id for p in policies if p.exclusive_group or p.cap_group]
    before = ledger.imported_payments(session, due, grouped)
    for uscc, amounts in due.items():
        _one_enterprise(policies, amounts, by_id, before.get(uscc, []))
    for policy, result in zip(policies, results, strict=True):
        result.schedule = scheduled_shares(policy, result.payable_total)
    return results


def _one_enterprise(
    policies: Sequence[Policy],
    amounts: dict[str, float],
    by_id: dict[str, Payout],
    before: Sequence[ledger.Payment],
) -> None:
    """One enterprise's benefits: none of an exclusive group a rival already paid (``before``:
    the ledger's payments from before the platform), else the higher within the group; then each
    cap group's cap over them, less what the group paid before, in the order of the policies."""
    groups: dict[str, list[str]] = defaultdict(list)
    for policy in policies:
        if policy.id in amounts and policy.exclusive_group:
            groups[policy.exclusive_group].append(policy.id)
    by_policy = {p.id: p for p in policies}
    for group, members in groups.items():
        kept = max(members, key=lambda m: (amounts[m], m))
        for member in members:
            earlier = ledger.within_validity(by_policy[member], before)
            rival_paid = any(
                p.policy_id != member and by_group(policies, p.policy_id, exclusive=group)
                for p in earlier
            )
            if member != kept or rival_paid:
                del amounts[member]
                by_id[member].by_exclusive_group += 1
    spent: dict[str, float] = defaultdict(float)
    for policy in policies:
        if policy.id not in amounts:
            continue
        amount = amounts[policy.id]
        if policy.cap_group is not None:
            group, cap = policy.cap_group
            earlier = ledger.within_validity(policy, before)
            paid = sum(p.amount for p in earlier if by_group(policies, p.policy_id, cap=group))
            allowed = max(0.0, min(amount, cap - spent[group] - paid))
            by_id[policy.id].by_cap_group += allowed < amount
            spent[group] += allowed
            amount = allowed
        if amount > 0:
            by_id[policy.id].payable += 1
            by_id[policy.id].payable_total += amount


def by_group(
    policies: Sequence[Policy], policy_id: str, exclusive: str | None = None, cap: str | None = None
) -> bool:
    """Whether the policy ``policy_id`` (among ``policies``) is of that exclusive or cap group."""
    for policy in policies:
        if policy.id == policy_id:
            if exclusive is not None:
                return policy.exclusive_group == exclusive
            return policy.cap_group is not None and policy.cap_group[0] == cap
    return False
