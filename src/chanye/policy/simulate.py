"""What-if: a policy with changed parameters against the same enterprises, before and after."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chanye.policy.loader import with_parameters
from chanye.policy.model import Policy
from chanye.policy.population import Eligible, Population, eligible, in_scope
from chanye.policy.tiers import Tiers
from chanye.registry.scope import Scope
from chanye.units import parse_amount, parse_percent


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
    cluster. Both sides run on the columnar engine over the loaded enterprises; every figure counts only the
    enterprises in ``scope`` (a chain leader's industries), and the cluster chart only its
    industries."""
    import time

    started = time.perf_counter()
    before = eligible(population, policy)
    after = eligible(population, with_parameters(policy, changes))
    joined = _Joined.of(population.size, before, after)
    scope = scope or Scope.all()
    admitted = in_scope(population, scope)
    if admitted is not None:
        joined = joined.only(admitted[joined.rows])
    result = Simulation(
        policy.id,
        changes,
        Side(int(joined.was.sum()), float(joined.before.sum())),
        Side(int(joined.now.sum()), float(joined.after.sum())),
        int((joined.now & ~joined.was).sum()),
        int((joined.was & ~joined.now).sum()),
    )
    result.by_district = _grouped(population, joined, "district_code")
    result.by_cluster = [
        row
        for row in _grouped(population, joined, "cluster")
        if scope.everything or scope.shows_industry(row["key"])
    ]
    result.gainers = _sample(population, joined, joined.now & ~joined.was, joined.after, sample)
    result.losers = _sample(population, joined, joined.was & ~joined.now, joined.before, sample)
    result.seconds = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class _Joined:
    """The enterprises eligible before or after (ascending rows), with both amounts (0 where
    none or unknown)."""

    rows: np.ndarray
    was: np.ndarray
    now: np.ndarray
    before: np.ndarray
    after: np.ndarray

    @classmethod
    def of(cls, size: int, before: Eligible, after: Eligible) -> _Joined:
        rows = np.union1d(before.rows, after.rows)
        was, now = np.isin(rows, before.rows), np.isin(rows, after.rows)
        amount_before, amount_after = np.zeros(len(rows)), np.zeros(len(rows))
        amount_before[was] = np.nan_to_num(before.amounts, nan=0.0)
        amount_after[now] = np.nan_to_num(after.amounts, nan=0.0)
        return cls(rows, was, now, amount_before, amount_after)

    def only(self, keep: np.ndarray) -> _Joined:
        return _Joined(
            self.rows[keep], self.was[keep], self.now[keep], self.before[keep], self.after[keep]
        )


def _grouped(population: Population, joined: _Joined, by: str) -> list[dict[str, Any]]:
    """Counts and amounts before and after per district, or per cluster (an enterprise in
    several clusters counts in each; one in none under （未归类）)."""
    taken = pa.array(joined.rows, pa.int64())
    if by == "cluster":
        lists = population.view.combined("clusters").take(taken).combine_chunks()
        sizes = np.asarray(pc.fill_null(pc.list_value_length(lists), -1).to_numpy(), np.int64)
        flat = pc.list_flatten(lists).to_pylist()
        owners = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
        empty = np.flatnonzero(sizes == 0)  # an unknown list (null) is in no group
        keys = [*flat, *(["（未归类）"] * len(empty))]
        members = np.concatenate([owners, empty])
    else:
        codes = population.view.combined("district_code").take(taken).to_pylist()
        keys = ["（未知）" if c is None else str(c) for c in codes]
        members = np.arange(len(joined.rows), dtype=np.int64)
    groups: dict[str, list[int]] = {}
    for key, member in zip(keys, members.tolist(), strict=True):
        groups.setdefault(str(key), []).append(member)
    found = []
    for key in sorted(groups):
        at = np.array(groups[key], dtype=np.int64)
        found.append(
            {
                "key": key,
                "before_eligible": int(joined.was[at].sum()),
                "before_amount": float(joined.before[at].sum()),
                "after_eligible": int(joined.now[at].sum()),
                "after_amount": float(joined.after[at].sum()),
            }
        )
    return found


def _sample(
    population: Population, joined: _Joined, where: np.ndarray, amount: np.ndarray, limit: int
) -> list[dict[str, Any]]:
    """The largest amounts first (then by USCC)."""
    picked = np.flatnonzero(where)
    if not len(picked):
        return []
    usccs = population.usccs.take(pa.array(joined.rows[picked], pa.int64())).to_pylist()
    order = sorted(range(len(picked)), key=lambda i: (-amount[picked[i]], usccs[i]))[:limit]
    chosen = [usccs[i] for i in order]
    records = population.view.records(chosen, ["name", "district_code"])
    return [
        {
            "uscc": uscc,
            "name": records[uscc]["name"],
            "district_code": records[uscc]["district_code"],
            "amount": float(amount[picked[i]]),
        }
        for uscc, i in zip(chosen, order, strict=True)
    ]


def _number(raw: str) -> float:
    value = parse_percent(raw)
    value = parse_amount(raw) if value is None else value
    if value is None:
        raise ValueError(raw)
    return value


def parse_setting(text: str, policy: Policy) -> tuple[str, Any]:
    """``NAME=VALUE`` from the command line, typed like the parameter it changes."""
    if "=" not in text:
        raise ValueError(f"应写成 名称=取值 / expected NAME=VALUE: {text!r}")
    name, raw = (part.strip() for part in text.split("=", 1))
    if "." in name or isinstance(policy.parameters.get(name), Tiers):
        return name, _band_setting(name, raw, policy)
    if name not in policy.parameters:
        known = "、".join(policy.parameters) or "（无）"
        raise ValueError(f"政策 {policy.id} 没有参数 {name}（已有：{known}）/ unknown parameter")
    current = policy.parameters[name]
    try:
        if isinstance(current, bool):
            return name, raw.lower() in ("true", "1", "yes")
        if isinstance(current, int):
            whole = _number(raw)
            if not whole.is_integer():
                raise ValueError(raw)
            return name, int(whole)
        if isinstance(current, float):  # 500万, 1.5亿元 and 20% are taken as people write them
            return name, _number(raw)
        if isinstance(current, dt.date):
            return name, dt.date.fromisoformat(raw)
        if isinstance(current, list):
            return name, [v.strip() for v in raw.split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"参数 {name} 的取值 {raw!r} 不是 {type(current).__name__} / bad value"
        ) from None
    return name, raw


def _band_setting(name: str, raw: str, policy: Policy) -> float:
    """``output_tiers.3.amount=60万``: one band of a tier table (its ``from``, or its value)."""
    table, _, band = name.partition(".")
    tiers = policy.parameters.get(table)
    if not isinstance(tiers, Tiers):
        raise ValueError(f"政策 {policy.id} 没有分档表参数 {table} / unknown tier table")
    row, _, column = band.partition(".")
    example = f"{table}.{len(tiers.starts)}.{tiers.column}=60万"
    if not (row.isdigit() and 1 <= int(row) <= len(tiers.starts)) or column not in (
        "from",
        tiers.column,
    ):
        raise ValueError(
            f"分档表 {table} 共 {len(tiers.starts)} 档，请逐档修改，写成 {table}.档次.from 或 "
            f"{table}.档次.{tiers.column}，如 --set {example} / set one band: {example}"
        )
    try:
        return _number(raw)
    except ValueError:
        raise ValueError(f"{name} 的取值 {raw!r} 不是数 / bad value") from None
