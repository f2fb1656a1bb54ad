"""Classification keeps its evidence; overrides are audited and survive re-import and re-classify."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from chanye.registry.changes import ChangeRefusedError, reclassify
from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.registry.overrides import clear_override, set_override
from chanye.store.audit import verify_chain
from chanye.store.database import session_scope
from chanye.store.models import AuditEntry
from chanye.system.loader import default_system_text, parse_system
from tests.registry.conftest import ANALYST
from tests.registry.factory import row, uscc, write_csv

ROWS = [
    row(1),  # code 3841 + battery keywords: icv-nev battery link
    row(2, **{"行业代码": "3973", "经营范围": "车规级芯片设计与销售"}),  # a code two chains share
    row(3, **{"行业代码": "3973", "经营范围": "晶圆制造"}),
    row(4, **{"行业代码": "", "经营范围": "工业机器人及减速器的研发"}),  # keywords alone
    row(5, **{"行业代码": "5211", "经营范围": "日用百货零售", "企业名称": "广州市某某百货店"}),
]


def imported(context: RegistryContext, tmp_path: Path) -> RegistryContext:
    result = import_file(
        context.database_url,
        context.paths,
        context.system,
        write_csv(tmp_path / "in.csv", ROWS),
        ANALYST,
    )
    assert result.exit_code == 0, result
    return context


def show(context: RegistryContext, n: int) -> dict:
    reader = context.reader()
    try:
        record = reader.show(uscc(n))
    finally:
        reader.close()
    assert record is not None
    return record


def test_code_and_keywords_place_an_enterprise_with_evidence(
    context: RegistryContext, tmp_path: Path
) -> None:
    imported(context, tmp_path)
    battery = show(context, 1)
    assert battery["clusters"] == ["icv-nev"] and battery["chain_links"] == ["icv-nev-battery"]
    assert {
        "industry": "icv-nev",
        "link": "icv-nev-battery",
        "via": "code",
        "value": "3841",
    } in battery["evidence"]
    assert {
        "industry": "icv-nev",
        "link": "icv-nev-battery",
        "via": "keyword",
        "value": "动力电池",
    } in battery["evidence"]
    assert battery["confidence"]["icv-nev"] == 1.0
    robots = show(context, 4)
    assert (
        robots["clusters"] == ["equipment-robotics"]
        and robots["confidence"]["equipment-robotics"] == 0.6
    )
    assert show(context, 5)["clusters"] == []


def test_keywords_decide_between_chains_sharing_a_code(
    context: RegistryContext, tmp_path: Path
) -> None:
    imported(context, tmp_path)
    assert set(show(context, 2)["clusters"]) == {"icv-nev", "semiconductor-ic"}  # keywords for both
    fab = show(context, 3)
    assert fab["clusters"] == ["semiconductor-ic"]  # code shared, keyword only for IC
    assert "icv-nev" not in fab["confidence"]


def test_override_is_audited_and_survives_reimport_and_reclassify(
    context: RegistryContext, tmp_path: Path
) -> None:
    imported(context, tmp_path)
    set_override(
        context.database_url,
        context.paths,
        context.system,
        uscc(5),
        ["fashion-consumer"],
        [],
        "实为定制家居门店，归入时尚消费品",
        ANALYST,
    )
    assert show(context, 5)["clusters"] == ["fashion-consumer"] and show(context, 5)["overridden"]
    imported(context, tmp_path)  # the same file again
    reclassify(context.database_url, context.paths, context.system, ANALYST)
    assert show(context, 5)["clusters"] == ["fashion-consumer"]
    with session_scope(context.database_url) as session:
        actions = [a.action for a in session.query(AuditEntry).order_by(AuditEntry.id)]
        assert verify_chain(session) == []
    assert clear_override(context.database_url, context.paths, uscc(5), ANALYST)
    assert "registry.override" in actions
    assert show(context, 5)["clusters"] == []


def test_override_refuses_unknown_ids(context: RegistryContext, tmp_path: Path) -> None:
    imported(context, tmp_path)
    where = (context.database_url, context.paths, context.system)
    with pytest.raises(ChangeRefusedError, match="未知的产业"):
        set_override(*where, uscc(1), ["flying-cars"], [], "x", ANALYST)
    with pytest.raises(ChangeRefusedError, match="不属于所选产业"):
        set_override(*where, uscc(1), ["ai"], ["icv-nev-battery"], "x", ANALYST)


def test_reclassify_follows_a_changed_system_file(context: RegistryContext, tmp_path: Path) -> None:
    imported(context, tmp_path)
    raw = tomllib.loads(default_system_text())
    fashion = next(c for c in raw["clusters"] if c["id"] == "fashion-consumer")
    fashion["keywords"] = [*fashion.get("keywords", []), "日用百货零售"]
    changed = RegistryContext(
        context.database_url, context.paths, parse_system(tomli_w.dumps(raw), "edited.toml")
    )
    result = reclassify(changed.database_url, changed.paths, changed.system, ANALYST)
    assert result.enterprises == 5 and result.changed >= 1
    assert show(changed, 5)["clusters"] == ["fashion-consumer"]
    assert show(context, 1)["change_id"] == 1  # unchanged placements keep their source change
