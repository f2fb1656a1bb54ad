"""Rules across policies: no double benefit within an ``exclusive_group`` ("就高不重复").

An enterprise eligible for several policies of one group receives only the highest amount (ties:
the policy listed first); the others are kept as decisions but marked as excluded by it.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from chanye.policy.model import Policy


def apply_exclusions(pairs: pa.Table, policies: list[Policy]) -> pa.Table:
    """``pairs`` (p, rid, amount) with ``excluded_by``: the index of the policy that takes
    precedence in the same group, or null when the pair stands."""
    groups = pa.table({
        "p": pa.array(range(len(policies)), pa.int16()),
        "grp": pa.array([p.exclusive_group for p in policies], pa.string()),
    })  # fmt: skip
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
