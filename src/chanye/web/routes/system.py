"""产业体系: the 12218 overview, one page per industry, and the same as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from chanye.system.export import STAGES, industry_to_dict, system_to_dict
from chanye.system.model import IndustrialSystem, Industry
from chanye.web.auth import requires
from chanye.web.dependencies import SystemDep
from chanye.web.templating import templates

router = APIRouter(dependencies=[requires("system", "read")])


def _industry_or_404(system: IndustrialSystem, industry_id: str) -> Industry:
    industry = system.industry(industry_id)
    if industry is None:
        raise HTTPException(404, f"没有标识为“{industry_id}”的产业")
    return industry


@router.get("/system", response_class=HTMLResponse, summary="12218 overview page")
def overview(request: Request, system: SystemDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "system/overview.html",
        {"system": system, "active": "system", "clusters": system.clusters, "tier": None},
    )


@router.get("/system/clusters", response_class=HTMLResponse, summary="Cluster table rows (HTMX)")
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


@router.get("/industries/{industry_id}", response_class=HTMLResponse, summary="Industry page")
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


@router.get("/chains", response_class=HTMLResponse, summary="Industry chains index")
def chains(request: Request, system: SystemDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "system/chains.html", {"system": system, "active": "chains", "stages": STAGES}
    )


@router.get("/api/system", summary="The industrial system in force, as JSON")
def system_json(system: SystemDep) -> dict[str, Any]:
    return system_to_dict(system)


@router.get("/api/industries/{industry_id}", summary="One industry with its chain, as JSON")
def industry_json(industry_id: str, system: SystemDep) -> dict[str, Any]:
    return industry_to_dict(system, _industry_or_404(system, industry_id))
