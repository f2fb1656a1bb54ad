"""Generated policies of realistic shape, as plain data every competitor translates for itself.

Each policy has 3–8 conditions drawn from a fixed menu (revenue, employees, R&D ratio, age,
district, industry-code prefix, tags, clusters) and an amount formula (a fixed sum, a capped share
of R&D expense or revenue, or two tiers by headcount). The same seed always gives the same
policies. ``to_policy_yaml`` writes one in chanye's policy file format (DESIGN.md "Policy file").
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from functools import cache

import yaml

VALID_FROM = dt.date(2025, 1, 1)
VALID_TO = dt.date(2027, 12, 31)

NUMERIC_FIELDS = ("revenue", "employees", "rd_ratio", "age_years")
INT_FIELDS = ("employees", "age_years")  # CEL int; the others are double
Scalar = float | int


@dataclass(frozen=True)
class Condition:
    """One condition: ``field op value``.

    ``op`` is one of ``>=``, ``<``, ``<=`` (numeric fields, the value a named parameter),
    ``in`` (district_code in a tuple of codes), ``prefix`` (industry_code starts with one of a
    tuple of prefixes), ``has`` / ``lacks`` (a tag or cluster id is / is not in the list).
    """

    id: str
    field: str
    op: str
    value: Scalar | str | tuple[str, ...]
    text: str
    param: str | None = None


@dataclass(frozen=True)
class Amount:
    """``fixed``: params amount; ``share``: min(field * rate, cap); ``tiered``: employees >=
    tier_employees ? high_amount : low_amount."""

    kind: str
    field: str | None
    params: tuple[tuple[str, Scalar], ...]

    def param(self, name: str) -> Scalar:
        return dict(self.params)[name]


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    issuer: str
    conditions: tuple[Condition, ...]
    amount: Amount

    @property
    def parameters(self) -> dict[str, Scalar]:
        found: dict[str, Scalar] = {}
        for c in self.conditions:
            if c.param is not None:
                assert isinstance(c.value, float | int)
                found[c.param] = c.value
        return {**found, **dict(self.amount.params)}


# --- the menu -------------------------------------------------------------------------------------

# (kind, weight): how often a kind of condition appears in a policy.
KINDS: tuple[tuple[str, int], ...] = (
    ("revenue-min", 6),
    ("revenue-max", 2),
    ("employees-min", 3),
    ("employees-max", 3),
    ("rd-ratio-min", 4),
    ("age-min", 3),
    ("age-max", 2),
    ("district", 3),
    ("industry", 3),
    ("tag-has", 4),
    ("tag-lacks", 2),
    ("cluster", 2),
)
REVENUE_MIN = (5.0e5, 1.0e6, 5.0e6, 1.0e7, 2.0e7, 5.0e7)
REVENUE_MAX = (4.0e8, 1.0e9, 2.0e9)
EMPLOYEES_MIN = (3, 5, 10, 20, 50)
EMPLOYEES_MAX = (100, 300, 500, 1000)
RD_RATIO_MIN = (0.01, 0.02, 0.03, 0.05)
AGE_MIN = (1, 2, 3, 5)
AGE_MAX = (3, 5, 8, 10)
# GB/T 4754 divisions a Guangzhou policy typically names: manufacturing and tech services.
INDUSTRY_PREFIXES = ("26", "27", "34", "35", "36", "38", "39", "40", "63", "64", "65", "73")
TAGS_REQUIRED = (
    "high_tech",
    "high_tech",
    "above_scale",
    "above_scale",
    "specialized_sme",
    "little_giant",
    "chain_leader",
)
TAGS_EXCLUDED = ("listed", "above_scale", "unicorn")
TAG_NAMES = {
    "above_scale": "规模以上企业",
    "high_tech": "高新技术企业",
    "specialized_sme": "专精特新中小企业",
    "little_giant": "专精特新“小巨人”企业",
    "chain_leader": "链主企业",
    "listed": "上市企业",
    "unicorn": "独角兽企业",
}
TITLES = (
    "研发投入后补助",
    "专精特新企业奖励",
    "小升规企业奖励",
    "高新技术企业认定奖励",
    "新能源汽车产业链扶持",
    "低空经济企业扶持",
    "人工智能算力券",
    "区级产业发展扶持",
    "科技型中小企业补助",
    "先进制造业发展专项",
    "数字化转型补助",
    "初创企业成长奖励",
)
ISSUERS = (
    "广州市科学技术局",
    "广州市工业和信息化局",
    "广州市发展和改革委员会",
    "广州市商务局",
    "广州开发区管委会",
)


@cache
def districts() -> tuple[tuple[str, str], ...]:
    """(code, name) of the city's districts, from the industrial system chanye ships."""
    from chanye.system.loader import load_default_system

    return tuple((d.code, d.name) for d in load_default_system().districts)


@cache
def cluster_names() -> dict[str, str]:
    from chanye.system.loader import load_default_system

    return {c.id: c.name for c in load_default_system().clusters}


def _wan(yuan: float) -> str:
    return f"{yuan / 1e4:g}"


def _numeric(kind: str, rng: random.Random, chosen: dict[str, Condition]) -> Condition:
    if kind == "revenue-min":
        v: Scalar = rng.choice(REVENUE_MIN)
        return Condition(
            kind, "revenue", ">=", v, f"上年度营业收入不低于{_wan(v)}万元", "min_revenue"
        )
    if kind == "revenue-max":
        v = rng.choice(REVENUE_MAX)
        return Condition(kind, "revenue", "<", v, f"上年度营业收入低于{_wan(v)}万元", "max_revenue")
    if kind == "employees-min":
        v = rng.choice(EMPLOYEES_MIN)
        return Condition(kind, "employees", ">=", v, f"从业人员不少于{v}人", "min_employees")
    if kind == "employees-max":
        v = rng.choice(EMPLOYEES_MAX)
        return Condition(kind, "employees", "<", v, f"从业人员少于{v}人", "max_employees")
    if kind == "rd-ratio-min":
        v = rng.choice(RD_RATIO_MIN)
        return Condition(
            kind, "rd_ratio", ">=", v, f"研发费用占营业收入比例不低于{v * 100:g}%", "min_rd_ratio"
        )
    if kind == "age-min":
        v = rng.choice(AGE_MIN)
        return Condition(kind, "age_years", ">=", v, f"成立满{v}年", "min_age")
    floor = chosen["age-min"].value if "age-min" in chosen else 0
    assert isinstance(floor, int)
    v = rng.choice([a for a in AGE_MAX if a > floor])
    return Condition(kind, "age_years", "<=", v, f"成立不超过{v}年", "max_age")


def _condition(kind: str, rng: random.Random, chosen: dict[str, Condition]) -> Condition:
    if kind == "district":
        picked = sorted(rng.sample(districts(), rng.randint(1, 4)))
        names = "、".join(name for _, name in picked)
        return Condition(
            kind, "district_code", "in", tuple(c for c, _ in picked), f"注册地位于{names}"
        )
    if kind == "industry":
        prefixes = tuple(sorted(rng.sample(INDUSTRY_PREFIXES, rng.choice((1, 1, 2)))))
        return Condition(
            kind,
            "industry_code",
            "prefix",
            prefixes,
            f"所属行业为国民经济行业分类{'、'.join(prefixes)}大类",
        )
    if kind == "tag-has":
        tag = rng.choice(TAGS_REQUIRED)
        return Condition(kind, "tags", "has", tag, f"为{TAG_NAMES[tag]}")
    if kind == "tag-lacks":
        required = chosen["tag-has"].value if "tag-has" in chosen else None
        tag = rng.choice([t for t in TAGS_EXCLUDED if t != required])
        return Condition(kind, "tags", "lacks", tag, f"非{TAG_NAMES[tag]}")
    if kind == "cluster":
        cluster = rng.choice(sorted(cluster_names()))
        return Condition(
            kind, "clusters", "has", cluster, f"属于{cluster_names()[cluster]}产业集群"
        )
    return _numeric(kind, rng, chosen)


def _amount(rng: random.Random) -> Amount:
    kind = rng.choice(("fixed", "share", "share", "tiered"))
    if kind == "fixed":
        return Amount("fixed", None, (("amount", rng.choice((1.0e5, 2.0e5, 3.0e5, 5.0e5, 1.0e6))),))
    if kind == "share":
        field = rng.choice(("rd_expense", "rd_expense", "revenue"))
        rate = rng.choice((0.05, 0.1, 0.2)) if field == "rd_expense" else rng.choice((0.005, 0.01))
        cap = rng.choice((1.0e6, 2.0e6, 5.0e6))
        return Amount("share", field, (("rate", rate), ("cap", cap)))
    tier = rng.choice((50, 100, 300))
    low = rng.choice((1.0e5, 2.0e5))
    return Amount(
        "tiered",
        "employees",
        (("tier_employees", tier), ("high_amount", low * 3), ("low_amount", low)),
    )


def _kinds(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct kinds, weighted, in menu order (so files read in a stable order)."""
    pool = dict(KINDS)
    picked: list[str] = []
    while len(picked) < count:
        kind = rng.choices(list(pool), weights=list(pool.values()))[0]
        picked.append(kind)
        del pool[kind]
    order = [k for k, _ in KINDS]
    return sorted(picked, key=order.index)


def generate_policies(count: int = 100, seed: int = 1) -> list[Policy]:
    rng = random.Random(seed)
    policies = []
    for number in range(1, count + 1):
        chosen: dict[str, Condition] = {}
        for kind in _kinds(rng, rng.randint(3, 8)):
            chosen[kind] = _condition(kind, rng, chosen)
        conditions = tuple(
            Condition(c.id, c.field, c.op, c.value, f"{c.text}（第{i}条）", c.param)
            for i, c in enumerate(chosen.values(), start=1)
        )
        title = f"{rng.choice(TITLES)}（生成{number:03d}）"
        policies.append(
            Policy(f"gen-{number:03d}", title, rng.choice(ISSUERS), conditions, _amount(rng))
        )
    return policies


# --- CEL and the policy file ----------------------------------------------------------------------


def _quoted(texts: tuple[str, ...]) -> str:
    return ", ".join(f'"{t}"' for t in texts)


def condition_cel(c: Condition) -> str:
    if c.op in (">=", "<", "<="):
        return f"enterprise.{c.field} {c.op} params.{c.param}"
    if c.op == "in":
        assert isinstance(c.value, tuple)
        return f"enterprise.{c.field} in [{_quoted(c.value)}]"
    if c.op == "prefix":
        assert isinstance(c.value, tuple)
        return " || ".join(f'enterprise.{c.field}.startsWith("{p}")' for p in c.value)
    if c.op == "has":
        return f'"{c.value}" in enterprise.{c.field}'
    if c.op == "lacks":
        return f'!("{c.value}" in enterprise.{c.field})'
    raise ValueError(c.op)


def amount_cel(a: Amount) -> str:
    if a.kind == "fixed":
        return "params.amount"
    if a.kind == "share":
        return f"min(enterprise.{a.field} * params.rate, params.cap)"
    return "enterprise.employees >= params.tier_employees ? params.high_amount : params.low_amount"


def to_policy_yaml(policy: Policy) -> str:
    """The policy as a chanye policy file: money and ratios as doubles, headcounts and ages as
    ints (CEL does not mix int and double arithmetic)."""
    document = {
        "id": policy.id,
        "title": policy.title,
        "issuer": policy.issuer,
        "valid": {"from": VALID_FROM, "to": VALID_TO},
        "parameters": policy.parameters,
        "conditions": [
            {"id": c.id, "text": c.text, "when": condition_cel(c)} for c in policy.conditions
        ],
        "benefit": {"amount": amount_cel(policy.amount)},
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
