"""产业体系: the 12218 overview, one page per industry, and the same as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from chanye.system.export import STAGES, industry_to_dict, system_to_dict
from chanye.system.model import IndustrialSystem, Industry
from chanye.web import workbench
from chanye.web.areas import Area, NavEntry, Permission
from chanye.web.auth import requires
from chanye.web.dependencies import SystemDep
from chanye.web.templating import templates

READ = Permission("system", "read")
_NEEDS = [requires(READ.obj, READ.act)]
router = APIRouter(prefix="/system", tags=["产业体系"], dependencies=_NEEDS)
industries = APIRouter(prefix="/industries", tags=["产业体系"], dependencies=_NEEDS)
chains_router = APIRouter(prefix="/chains", tags=["产业链"], dependencies=_NEEDS)
api = APIRouter(prefix="/api/system", tags=["产业体系"], dependencies=_NEEDS)
industries_api = APIRouter(prefix="/api/industries", tags=["产业体系"], dependencies=_NEEDS)

AREA = Area(
    "system",
    router,
    READ,
    docs="routes.md",
    nav=NavEntry("产业体系", "现代化产业体系的结构、目标与责任分工。"),
    api=api,
)
INDUSTRIES = Area("industries", industries, READ, docs="routes.md", api=industries_api)
CHAINS = Area(
    "chains",
    chains_router,
    READ,
    docs="routes.md",
    nav=NavEntry("产业链", "各产业集群与未来产业的产业链图谱：上游、中游、下游环节。"),
    cards=workbench.CHAIN_CARDS,
)


def _industry_or_404(system: IndustrialSystem, industry_id: str) -> Industry:
    industry = system.industry(industry_id)
    if industry is None:
        raise HTTPException(404, f"没有标识为“{industry_id}”的产业")
    return industry


@router.get("", response_class=HTMLResponse, summary="12218 overview page")
def overview(request: Request, system: SystemDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "system/overview.html",
        {"system": system, "active": "system", "clusters": system.clusters, "tier": None},
    )


@router.get("/clusters", response_class=HTMLResponse, summary="Cluster table rows (HTMX)")
def cluster_rows(
    request: Request,
    system: SystemDep,
    tier: Annotated[str | None, Query(description="Tier id; all tiers when omitted")] = None,
) -> HTMLResponse:
    if tier and system.tier(tier) is None:
        raise HTTPException(404, f"没有标识为“{tier}”的梯队")
    clusters = system.clusters_in_tier(tier) if tier else system.clusters
    return templates.TemplateResponse(
        request, "system/_cluster_rows.html", {"system": system, "clusters": clusters}
    )


@industries.get("/{industry_id}", response_class=HTMLResponse, summary="Industry page")
def industry_page(request: Request, industry_id: str, system: SystemDep) -> HTMLResponse:
    industry = _industry_or_404(system, industry_id)
    return templates.TemplateResponse(
        request,
        "system/industry.html",
        {
            "system": system,
            "industry": industry,
            "kind": system.kind_of(industry_id),
            "stages": STAGES,
            "active": "chains" if request.query_params.get("from") == "chains" else "system",
        },
    )


@chains_router.get("", response_class=HTMLResponse, summary="Industry chains index")
def chains(request: Request, system: SystemDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "system/chains.html", {"system": system, "active": "chains", "stages": STAGES}
    )


@api.get("", summary="The industrial system in force, as JSON")
def system_json(system: SystemDep) -> dict[str, Any]:
    return system_to_dict(system)


@industries_api.get("/{industry_id}", summary="One industry with its chain, as JSON")
def industry_json(industry_id: str, system: SystemDep) -> dict[str, Any]:
    return industry_to_dict(system, _industry_or_404(system, industry_id))
