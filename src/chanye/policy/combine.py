"""Rules across policies: no double benefit within an ``exclusive_group`` ("就高不重复"), and a
per-enterprise cap over the policies of a ``cap_group`` ("同一企业累计不超过…").

An enterprise eligible for several policies of one exclusive group receives only the highest
amount (ties: the policy listed first); the others are kept as decisions but marked as excluded
by it. Within a cap group the amounts are paid in the order the policies are listed until the cap
is reached; the policy that crosses it pays the remainder.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from chanye.policy.model import Policy


def apply_exclusions(pairs: pa.Table, policies: list[Policy]) -> pa.Table:
    """``pairs`` (p, rid, amount) with ``excluded_by``: the index of the policy that takes
    precedence in the same group, or null when the pair stands."""
    groups = pa.table(
        {
            "p": pa.array(range(len(policies)), pa.int16()),
            "grp": pa.array([p.exclusive_group for p in policies], pa.string()),
        }
    )
    con = duckdb.connect()
    con.register("pairs", pairs)
    con.register("groups", groups)
    return con.execute(
        """SELECT p, rid, amount,
                  CASE WHEN grp IS NULL OR rank = 1 THEN NULL ELSE first_p END AS excluded_by
           FROM (SELECT pairs.*, grp,
                        row_number() OVER w AS rank, first_value(pairs.p) OVER w AS first_p
                 FROM pairs JOIN groups USING (p)
                 WINDOW w AS (PARTITION BY coalesce(grp, 'p' || pairs.p), rid
                              ORDER BY amount DESC NULLS LAST, pairs.p))
           ORDER BY p, rid"""
    ).to_arrow_table()


def apply_caps(pairs: pa.Table, policies: list[Policy]) -> pa.Table:
    """``apply_exclusions``' result with ``paid``: the amount after exclusions and caps."""
    groups = pa.table(
        {
            "p": pa.array(range(len(policies)), pa.int16()),
            "cap_grp": pa.array(
                [p.cap_group[0] if p.cap_group else None for p in policies], pa.string()
            ),
            "cap": pa.array(
                [p.cap_group[1] if p.cap_group else None for p in policies], pa.float64()
            ),
        }
    )
    con = duckdb.connect()
    con.register("pairs", pairs)
    con.register("groups", groups)
    return con.execute(
        """SELECT p, rid, amount, excluded_by,
                  CASE WHEN excluded_by IS NOT NULL THEN 0.0
                       WHEN cap_grp IS NULL THEN amount
                       ELSE greatest(0.0, least(coalesce(amount, 0), cap - (running - coalesce(amount, 0))))
                  END AS paid
           FROM (SELECT pairs.*, cap_grp, cap,
                        sum(CASE WHEN excluded_by IS NULL THEN coalesce(amount, 0) ELSE 0 END)
                            OVER (PARTITION BY coalesce(cap_grp, 'p' || pairs.p), rid ORDER BY pairs.p
                                  ROWS UNBOUNDED PRECEDING) AS running
                 FROM pairs JOIN groups USING (p))
           ORDER BY p, rid"""
    ).to_arrow_table()
