"""The industrial system as plain data: what `chanye system show --json` and the web API return."""

from __future__ import annotations

from typing import Any

from chanye.system.model import (
    STAGE_LABELS,
    AggregateTarget,
    IndustrialSystem,
    Industry,
    Stage,
)

STAGES: tuple[Stage, ...] = ("upstream", "midstream", "downstream")


def industry_to_dict(system: IndustrialSystem, industry: Industry) -> dict[str, Any]:
    tier = system.tier(industry.tier) if industry.tier else None
    accountability = industry.accountability
    office = (
        system.office(accountability.office) if accountability and accountability.office else None
    )
    return {
        "id": industry.id,
        "name": industry.name,
        "short_name": industry.short_name,
        "kind": system.kind_of(industry.id),
        "tier": industry.tier,
        "tier_name": tier.name if tier else None,
        "group": industry.group,
        "description": industry.description,
        "confirmed": industry.confirmed,
        "note": industry.note,
        "target": industry.target.model_dump() if industry.target else None,
        "accountability": (
            {**accountability.model_dump(), "office_name": office.name if office else None}
            if accountability
            else None
        ),
        "codes": industry.codes,
        "keywords": industry.keywords,
        "chain": {
            stage: [link.model_dump(exclude={"stage"}) for link in industry.links_at(stage)]
            for stage in STAGES
        },
        "source": industry.source,
    }


def aggregate_target_to_dict(target: AggregateTarget) -> dict[str, Any]:
    return {
        **target.model_dump(),
        "required_growth_rate": round(target.required_growth_rate, 4),
    }


def system_to_dict(system: IndustrialSystem) -> dict[str, Any]:
    return {
        "system": system.system.model_dump(mode="json"),
        "requirement": system.requirement.model_dump(),
        "directions": [d.model_dump() for d in system.directions],
        "tiers": [t.model_dump() for t in system.tiers],
        "service_groups": [g.model_dump() for g in system.service_groups],
        "targets": [aggregate_target_to_dict(t) for t in system.targets],
        "clusters": [industry_to_dict(system, c) for c in system.clusters],
        "future_industries": [industry_to_dict(system, f) for f in system.future_industries],
        "service_industries": [industry_to_dict(system, s) for s in system.service_industries],
        "governance": system.governance.model_dump() if system.governance else None,
        "figures": [f.model_dump() for f in system.figures],
        "sources": [s.model_dump(mode="json") for s in system.sources],
        "stage_labels": STAGE_LABELS,
    }
