"""What each competitor returns per policy, and how two competitors' results are compared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# Amounts are computed in double by the vectorised competitors and in decimal by rule-engine.
AMOUNT_RTOL = 1e-9


@dataclass(frozen=True)
class Outcome:
    """One policy over the population: ``eligible`` per enterprise, and ``amount`` for the eligible
    ones only, in population order (NaN where the amount reads a missing value)."""

    eligible: npt.NDArray[np.bool_]
    amount: npt.NDArray[np.float64]

    @classmethod
    def from_full(cls, eligible: Any, amount: Any) -> Outcome:
        """From a full-length amount array (what is stored for ineligible rows does not matter)."""
        mask = np.asarray(eligible, dtype=np.bool_)
        return cls(mask, np.asarray(amount, dtype=np.float64)[mask])

    def subset(self, rows: npt.NDArray[np.int64]) -> Outcome:
        full = np.zeros(len(self.eligible), dtype=np.float64)
        full[self.eligible] = self.amount
        return Outcome.from_full(self.eligible[rows], full[rows])


def disagreements(left: dict[str, Outcome], right: dict[str, Outcome]) -> dict[str, dict[str, int]]:
    """Per policy that differs: how many enterprises' eligibility differs, and how many amounts
    (among enterprises both call eligible). Empty when they agree on everything."""
    found: dict[str, dict[str, int]] = {}
    for policy_id in sorted(set(left) | set(right)):
        if policy_id not in left or policy_id not in right:
            found[policy_id] = {"eligibility": -1, "amount": -1}
            continue
        a, b = left[policy_id], right[policy_id]
        eligibility = int(np.count_nonzero(a.eligible != b.eligible))
        amount = 0
        if eligibility == 0:
            close = np.isclose(a.amount, b.amount, rtol=AMOUNT_RTOL, atol=0.0, equal_nan=True)
            amount = int(np.count_nonzero(~close))
        if eligibility or amount:
            found[policy_id] = {"eligibility": eligibility, "amount": amount}
    return found
