"""The shipped Guangzhou 12218 file holds the whole published system, with sources."""

from __future__ import annotations

import pytest

from chanye.system.industry_codes import catalogue
from chanye.system.loader import load_default_system
from chanye.system.model import IndustrialSystem

# Ids fixed by DESIGN.md, in their tiers.
TIERS = {
    "pillar": [
        "icv-nev",
        "uhd-display",
        "biomed-health",
        "petrochem-materials",
        "software-internet",
        "equipment-robotics",
    ],
    "strategic-leading": [
        "ai",
        "semiconductor-ic",
        "new-energy-storage",
        "low-altitude-aerospace",
        "bio-manufacturing",
    ],
    "distinctive": [
        "fashion-consumer",
        "rail-transit",
        "shipbuilding-marine",
        "smart-construction",
    ],
}
TARGET_LEVELS = {
    "icv-nev": ("万亿级", 1e12),
    "fashion-consumer": ("5000亿级", 5e11),
    "software-internet": ("5000亿级", 5e11),
    "petrochem-materials": ("5000亿级", 5e11),
    "smart-construction": ("5000亿级", 5e11),
    "rail-transit": ("3000亿级", 3e11),
    "biomed-health": ("3000亿级", 3e11),
    "new-energy-storage": ("3000亿级", 3e11),
    "uhd-display": ("3000亿级", 3e11),
}


@pytest.fixture(scope="module")
def system() -> IndustrialSystem:
    return load_default_system()


def test_one_requirement_two_directions(system: IndustrialSystem) -> None:
    assert system.requirement.name == "产业第一、制造业立市"
    assert len(system.directions) == 2
    assert {"两业融合", "两化转型"} <= {
        part for d in system.directions for part in (d.name[-5:-1],)
    }
    assert all(d.meaning for d in [system.requirement, *system.directions])


def test_fifteen_clusters_in_three_tiers_with_design_ids(system: IndustrialSystem) -> None:
    assert [t.name for t in system.tiers] == ["新兴支柱产业", "战略先导产业", "特色优势产业"]
    for tier, ids in TIERS.items():
        assert [c.id for c in system.clusters_in_tier(tier)] == ids


def test_six_future_and_eight_service_industries(system: IndustrialSystem) -> None:
    assert len(system.future_industries) == 6
    named = {"智能无人系统", "具身智能", "细胞与基因"}
    assert named <= {f.name for f in system.future_industries}
    unconfirmed = [f for f in system.future_industries if not f.confirmed]
    assert len(unconfirmed) == 3 and all(f.note for f in unconfirmed)
    assert len(system.service_industries) == 8
    assert {s.name for s in system.service_industries} >= {"现代金融", "科技服务", "会展", "旅游"}


def test_published_targets(system: IndustrialSystem) -> None:
    total = system.targets[0]
    assert (total.baseline_yuan, total.target_yuan) == (4e12, 6e12)
    assert total.industries == [c.id for c in system.clusters]
    assert round(total.required_growth_rate, 3) == 0.084
    with_targets = {c.id: c.target for c in system.clusters if c.target}
    assert set(with_targets) == set(TARGET_LEVELS)
    for cluster_id, (level, revenue) in TARGET_LEVELS.items():
        target = with_targets[cluster_id]
        assert target is not None
        assert (target.level, target.revenue_yuan, target.year) == (level, revenue, 2029)


def test_every_cluster_and_future_industry_has_a_chain(system: IndustrialSystem) -> None:
    for industry in [*system.clusters, *system.future_industries]:
        assert {link.stage for link in industry.links} == {"upstream", "midstream", "downstream"}
        minimum_links, minimum_keywords = (6, 30) if industry in system.clusters else (5, 25)
        assert len(industry.links) >= minimum_links, industry.id
        assert len(industry.all_keywords) >= minimum_keywords, industry.id
        assert all(link.codes and link.keywords for link in industry.links), industry.id


def test_codes_are_gbt4754_and_accountability_is_by_role(system: IndustrialSystem) -> None:
    codes = catalogue()
    for _, industry in system.industries():
        assert all(code in codes for code in industry.all_codes), industry.id
    for industry in [*system.clusters, *system.future_industries]:
        acc = industry.accountability
        assert acc is not None, industry.id
        assert acc.lead_department.startswith("广州市"), industry.id
        assert acc.task_force.endswith("工作专班"), industry.id


def test_key_offices_cover_their_industries(system: IndustrialSystem) -> None:
    assert system.governance is not None
    assert len(system.governance.offices) == 5
    covered = {i for o in system.governance.offices for i in o.industries}
    assert covered == {
        "icv-nev",
        "biomed-health",
        "low-altitude-aerospace",
        "uhd-display",
        "semiconductor-ic",
        "ai",
    }


def test_every_published_figure_has_a_source(system: IndustrialSystem) -> None:
    cited = [t.source for t in system.targets] + [f.source for f in system.figures]
    cited += [c.target.source for c in system.clusters if c.target]
    assert cited and all(system.source(s) is not None for s in cited)
    assert all(s.publisher for s in system.sources)
