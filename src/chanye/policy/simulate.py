"""What-if: a policy with changed parameters against the same enterprises, before and after."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from chanye.policy.compile import BASE_TABLE
from chanye.policy.engine import Population, compile_set
from chanye.policy.model import Policy
from chanye.registry.scope import Scope


@dataclass
class Side:
    eligible: int
    total_amount: float


@dataclass
class Simulation:
    policy_id: str
    changes: dict[str, Any]
    before: Side
    after: Side
    gained: int  # eligible after, not before
    lost: int
    by_district: list[dict[str, Any]] = field(default_factory=list)
    by_cluster: list[dict[str, Any]] = field(default_factory=list)
    gainers: list[dict[str, Any]] = field(default_factory=list)  # a sample, largest amount first
    losers: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def simulate(
    population: Population,
    policy: Policy,
    changes: dict[str, Any],
    sample: int = 20,
    scope: Scope | None = None,
) -> Simulation:
    """Eligible counts and amounts before and after, who gains and who loses, by district and
    cluster. Both sides run in DuckDB over the loaded enterprises; every figure counts only the
    enterprises in ``scope`` (a chain leader's industries), and the cluster chart only its
    industries."""
    import time

    started = time.perf_counter()
    changed = policy.with_parameters(changes)
    con = population.con
    for name, version in (("sim_before", policy), ("sim_after", changed)):
        sql = compile_set([version], population.as_of).pairs_sql
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT rid, amount FROM ({sql})")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE sim_joined AS
        SELECT coalesce(a.rid, b.rid) AS rid, b.rid IS NOT NULL AS was, a.rid IS NOT NULL AS now,
               coalesce(b.amount, 0) AS before_amount, coalesce(a.amount, 0) AS after_amount
        FROM sim_before b FULL OUTER JOIN sim_after a ON a.rid = b.rid"""
    )
    scope = scope or Scope.all()
    if not scope.everything:
        condition, params = scope.where()
        con.execute(
            f"DELETE FROM sim_joined WHERE rid NOT IN (SELECT rid FROM {BASE_TABLE} WHERE {condition})",
            params,
        )
    totals = con.execute(
        "SELECT count(*) FILTER (WHERE was), coalesce(sum(before_amount), 0), "
        "count(*) FILTER (WHERE now), coalesce(sum(after_amount), 0), "
        "count(*) FILTER (WHERE now AND NOT was), count(*) FILTER (WHERE was AND NOT now) FROM sim_joined"
    ).fetchone()
    assert totals is not None
    result = Simulation(
        policy.id,
        changes,
        Side(int(totals[0]), float(totals[1])),
        Side(int(totals[2]), float(totals[3])),
        int(totals[4]),
        int(totals[5]),
    )
    result.by_district = _grouped(population, "district_code")
    result.by_cluster = [
        row
        for row in _grouped(population, "cluster")
        if scope.everything or scope.shows_industry(row["key"])
    ]
    result.gainers = _sample(population, "now AND NOT was", "after_amount", sample)
    result.losers = _sample(population, "was AND NOT now", "before_amount", sample)
    result.seconds = time.perf_counter() - started
    return result


def _grouped(population: Population, by: str) -> list[dict[str, Any]]:
    key = (
        "unnest(CASE WHEN len(e.clusters) = 0 THEN ['（未归类）'] ELSE e.clusters END)"
        if by == "cluster"
        else "coalesce(e.district_code, '（未知）')"
    )
    rows = population.con.execute(
        f"""SELECT k, count(*) FILTER (WHERE was), sum(before_amount), count(*) FILTER (WHERE now),
                   sum(after_amount)
            FROM (SELECT {key} AS k, j.* FROM sim_joined j JOIN {BASE_TABLE} e USING (rid))
            GROUP BY k ORDER BY k"""
    ).fetchall()
    return [
        {
            "key": r[0],
            "before_eligible": int(r[1]),
            "before_amount": float(r[2] or 0),
            "after_eligible": int(r[3]),
            "after_amount": float(r[4] or 0),
        }
        for r in rows
    ]


def _sample(population: Population, where: str, amount: str, limit: int) -> list[dict[str, Any]]:
    rows = population.con.execute(
        f"""SELECT e.uscc, e.name, e.district_code, j.{amount}
            FROM sim_joined j JOIN {BASE_TABLE} e USING (rid) WHERE {where}
            ORDER BY j.{amount} DESC, e.uscc LIMIT {limit}"""
    ).fetchall()
    return [
        {"uscc": r[0], "name": r[1], "district_code": r[2], "amount": float(r[3])} for r in rows
    ]


def parse_setting(text: str, policy: Policy) -> tuple[str, Any]:
    """``NAME=VALUE`` from the command line, typed like the parameter it changes."""
    if "=" not in text:
        raise ValueError(f"应写成 名称=取值 / expected NAME=VALUE: {text!r}")
    name, raw = (part.strip() for part in text.split("=", 1))
    if name not in policy.parameters:
        known = "、".join(policy.parameters) or "（无）"
        raise ValueError(f"政策 {policy.id} 没有参数 {name}（已有：{known}）/ unknown parameter")
    current = policy.parameters[name]
    try:
        if isinstance(current, bool):
            return name, raw.lower() in ("true", "1", "yes")
        if isinstance(current, int):
            return name, int(raw)
        if isinstance(current, float):
            return name, float(raw)
        if isinstance(current, dt.date):
            return name, dt.date.fromisoformat(raw)
        if isinstance(current, list):
            return name, [v.strip() for v in raw.split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"参数 {name} 的取值 {raw!r} 不是 {type(current).__name__} / bad value"
        ) from None
    return name, raw
