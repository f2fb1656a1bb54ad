"""The typed model of a city's modern industrial system.

The model is deliberately city-neutral: Guangzhou's "12218" system is one instance of it, held in
``data/guangzhou_12218.toml``. Every model forbids unknown keys, so a typo in a system file is an
error rather than silently ignored data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Identifier = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", min_length=1, max_length=64)
Stage = Literal["upstream", "midstream", "downstream"]
IndustryKind = Literal["cluster", "future", "service"]

STAGE_LABELS: dict[str, str] = {"upstream": "上游", "midstream": "中游", "downstream": "下游"}
KIND_LABELS: dict[str, str] = {
    "cluster": "战略性产业集群",
    "future": "未来产业",
    "service": "现代服务业",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """A published document that a figure or a fact in the system file comes from."""

    id: str = Identifier
    title: str = Field(min_length=1)
    publisher: str = Field(min_length=1, description="Where it was published")
    published_on: dt.date | None = None
    url: str | None = None
    note: str | None = None


class Statement(_Strict):
    """The overall requirement or one main direction: a name and its meaning in a sentence."""

    id: str = Identifier
    name: str = Field(min_length=1)
    meaning: str = Field(min_length=1)
    source: str


class Tier(_Strict):
    id: str = Identifier
    name: str = Field(min_length=1)
    description: str = ""


class ServiceGroup(_Strict):
    id: str = Identifier
    name: str = Field(min_length=1)


class Target(_Strict):
    """A revenue target for one industry, e.g. 万亿级 by the target year."""

    level: str = Field(min_length=1, description="Published label, e.g. 万亿级")
    revenue_yuan: float = Field(gt=0)
    year: int = Field(ge=2000, le=2100)
    source: str
    confirmed: bool = True
    note: str | None = None


class AggregateTarget(_Strict):
    """A target over several industries, e.g. the 15 clusters' total above 6万亿."""

    id: str = Identifier
    name: str = Field(min_length=1)
    industries: list[str] = Field(min_length=1)
    baseline_yuan: float = Field(gt=0)
    baseline_year: int = Field(ge=2000, le=2100)
    target_yuan: float = Field(gt=0)
    target_year: int = Field(ge=2000, le=2100)
    comparison: Literal["above", "at_least"] = "above"
    baseline_growth_rate: float | None = Field(default=None, ge=-1, le=10)
    source: str

    @property
    def required_growth_rate(self) -> float:
        """Compound annual growth needed to go from the baseline to the target."""
        years = self.target_year - self.baseline_year
        return float((self.target_yuan / self.baseline_yuan) ** (1 / years) - 1)


class Accountability(_Strict):
    """Who answers for an industry: by role and department, never by personal name."""

    leader_role: str = Field(min_length=1)
    lead_department: str = Field(min_length=1)
    task_force: str = Field(min_length=1)
    office: str | None = None
    confirmed: bool = True
    note: str | None = None


class ChainLink(_Strict):
    """One link of an industry chain and what identifies an enterprise working on it."""

    id: str = Identifier
    name: str = Field(min_length=1)
    stage: Stage
    description: str = ""
    codes: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class Industry(_Strict):
    """A strategic cluster, a future industry or a modern service industry."""

    id: str = Identifier
    name: str = Field(min_length=1)
    short_name: str | None = None
    description: str = ""
    tier: str | None = None
    group: str | None = None
    target: Target | None = None
    accountability: Accountability | None = None
    links: list[ChainLink] = Field(default_factory=list)
    codes: list[str] = Field(default_factory=list, description="Codes of the industry as a whole")
    keywords: list[str] = Field(default_factory=list)
    confirmed: bool = True
    note: str | None = None
    source: str | None = None

    def links_at(self, stage: Stage) -> list[ChainLink]:
        return [link for link in self.links if link.stage == stage]

    @property
    def all_codes(self) -> list[str]:
        """The industry's own codes and those of its links, each once, in file order."""
        seen = dict.fromkeys([*self.codes, *(c for link in self.links for c in link.codes)])
        return list(seen)

    @property
    def all_keywords(self) -> list[str]:
        seen = dict.fromkeys([*self.keywords, *(k for link in self.links for k in link.keywords)])
        return list(seen)


class Office(_Strict):
    """A key industry development office (e.g. run as a real entity, 实体化运作)."""

    id: str = Identifier
    name: str = Field(min_length=1)
    industries: list[str] = Field(min_length=1)
    description: str = ""
    source: str


class Governance(_Strict):
    leading_group: str = Field(min_length=1)
    led_by: list[str] = Field(min_length=1)
    principle: str = Field(min_length=1)
    description: str = ""
    source: str
    offices: list[Office] = Field(default_factory=list)


class Figure(_Strict):
    """Another published figure worth keeping beside the targets (projects, land, funds ...)."""

    id: str = Identifier
    name: str = Field(min_length=1)
    value: float
    unit: str = Field(min_length=1)
    year: int | None = None
    source: str


class District(_Strict):
    """An administrative district of the city; enterprises are placed in one."""

    code: str = Field(pattern=r"^\d{6}$")
    name: str = Field(min_length=1)
    short_name: str | None = None

    @property
    def names(self) -> list[str]:
        """Every name a file may use for the district: 天河区, 天河, 广州市天河区 ..."""
        return [n for n in (self.name, self.short_name) if n]


QualificationLevel = Literal["国家级", "省级", "市级", "区级"]
QUALIFICATION_LEVELS: tuple[str, ...] = ("国家级", "省级", "市级", "区级")


class QualificationKind(_Strict):
    """A kind of recognition an enterprise can hold for a time (高新技术企业, 规上, 备案 ...).

    Its id is what policies and the registry's tags use (``high_tech``); its label and aliases
    are what files write. ``valid_years`` is how long a recognition lasts when a file gives no
    end date (高新技术企业: 3 years); none means until it is withdrawn."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", min_length=1, max_length=64)
    label: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    valid_years: int | None = Field(default=None, ge=1, le=50)
    group: Literal["recognition", "statistics", "market", "filing", "honour"] = "recognition"
    description: str = ""
    source: str | None = None

    @property
    def names(self) -> list[str]:
        """Every spelling a file may use: the id, the label and the aliases."""
        return [self.id, self.label, *self.aliases]


class SystemInfo(_Strict):
    id: str = Identifier
    name: str = Field(min_length=1)
    city: str = Field(min_length=1)
    city_code: str = Field(pattern=r"^\d{6}$")
    adopted_on: dt.date | None = None
    baseline_year: int = Field(ge=2000, le=2100)
    target_year: int = Field(ge=2000, le=2100)
    summary: str = ""
    code_mapping_note: str = Field(
        default="",
        description="What the industry-code lists are: e.g. chanye's own concordance, not official",
    )


class IndustrialSystem(_Strict):
    """A whole industrial system, as read from one file."""

    system: SystemInfo
    sources: list[Source] = Field(min_length=1)
    requirement: Statement
    directions: list[Statement] = Field(min_length=1)
    tiers: list[Tier] = Field(default_factory=list)
    service_groups: list[ServiceGroup] = Field(default_factory=list)
    targets: list[AggregateTarget] = Field(default_factory=list)
    governance: Governance | None = None
    clusters: list[Industry] = Field(min_length=1)
    future_industries: list[Industry] = Field(default_factory=list)
    service_industries: list[Industry] = Field(default_factory=list)
    figures: list[Figure] = Field(default_factory=list)
    districts: list[District] = Field(default_factory=list)
    qualification_kinds: list[QualificationKind] = Field(default_factory=list)

    def qualification_kind(self, kind_id: str) -> QualificationKind | None:
        return next((k for k in self.qualification_kinds if k.id == kind_id), None)

    def industries(self) -> Iterator[tuple[IndustryKind, Industry]]:
        """Every industry with its kind, clusters first."""
        for industry in self.clusters:
            yield "cluster", industry
        for industry in self.future_industries:
            yield "future", industry
        for industry in self.service_industries:
            yield "service", industry

    def industry(self, industry_id: str) -> Industry | None:
        return next((ind for _, ind in self.industries() if ind.id == industry_id), None)

    def kind_of(self, industry_id: str) -> IndustryKind | None:
        return next((kind for kind, ind in self.industries() if ind.id == industry_id), None)

    def source(self, source_id: str) -> Source | None:
        return next((s for s in self.sources if s.id == source_id), None)

    def tier(self, tier_id: str) -> Tier | None:
        return next((t for t in self.tiers if t.id == tier_id), None)

    def clusters_in_tier(self, tier_id: str) -> list[Industry]:
        return [c for c in self.clusters if c.tier == tier_id]

    def office(self, office_id: str) -> Office | None:
        offices = self.governance.offices if self.governance else []
        return next((o for o in offices if o.id == office_id), None)

    def offices_for(self, industry_id: str) -> list[Office]:
        offices = self.governance.offices if self.governance else []
        return [o for o in offices if industry_id in o.industries]
