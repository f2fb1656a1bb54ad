"""The field catalogue is the one description of the enterprise record: the docs show it as it
is, and the views the import, the snapshots and the policy engine take of it agree with it."""

from __future__ import annotations

import re
from pathlib import Path

from chanye.policy import fields as policy_fields
from chanye.registry import schema, storage
from chanye.registry.fields import CATALOGUE

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _first_table(path: Path, heading: str) -> list[list[str]]:
    section = path.read_text(encoding="utf-8").split(heading, 1)[1]
    match = re.search(r"(?:^\|.*\n)+", section, re.M)
    assert match, f"no table under {heading} in {path.name}"
    rows = [line.strip("|").split("|") for line in match.group(0).splitlines()]
    return [[cell.strip() for cell in row] for row in rows[2:]]


def test_the_registry_docs_show_the_catalogue() -> None:
    shown = _first_table(DOCS / "registry.md", "## The enterprise record (field catalogue)")
    expected = [
        [
            f"`{f.name}`",
            f.label,
            f.unit or "—",
            f.storage or "—",
            f.cel or "—",
            "yes" if f.held else "no",
            "、".join(f.headers) or "—",
        ]
        for f in CATALOGUE
    ]
    assert shown == expected


def test_the_policy_docs_list_the_fields_a_policy_reads() -> None:
    shown = _first_table(DOCS / "policy-file.md", "## The enterprise fields")
    cel_in_docs = {"list": "list(string)"}
    expected = [
        [f"`{f.name}`", cel_in_docs.get(f.cel, f.cel)]
        for f in CATALOGUE
        if f.cel is not None and f.held
    ]
    assert [row[:2] for row in shown] == expected


def test_every_view_is_taken_from_the_catalogue() -> None:
    stored = {f.name: f.storage for f in CATALOGUE if f.storage}
    assert stored == {**storage.RECORD_COLUMNS, **storage.CLASSIFICATION_COLUMNS}
    assert [s.name for s in schema.FIELDS] == [f.name for f in CATALOGUE if f.imported]
    assert all(f.storage and not f.derived for f in CATALOGUE if f.imported)
    assert [f.name for f in policy_fields.FIELDS] == [f.name for f in CATALOGUE if f.cel]


def test_the_labels_people_see_stay_as_they_were() -> None:
    """Pages and explanations show these (money with its unit); the import's messages and the
    export's headers show the label, money with （元） in the export."""
    assert {f.name: f.label for f in policy_fields.FIELDS} == {
        "uscc": "统一社会信用代码",
        "name": "企业名称",
        "district_code": "所属区",
        "industry_code": "行业代码",
        "business_scope": "经营范围",
        "founded_on": "成立日期",
        "registered_capital": "注册资本（元）",
        "revenue": "营业收入（元）",
        "employees": "从业人员",
        "rd_expense": "研发费用（元）",
        "tags": "企业标签",
        "status": "登记状态",
        "age_years": "成立年限（年）",
        "rd_ratio": "研发投入强度",
        "output_value": "工业总产值（元）",
        "value_added": "工业增加值（元）",
        "profit": "利润总额（元）",
        "tax_paid": "纳税总额（元）",
        "fixed_investment": "固定资产投资（元）",
        "exports": "出口额（元）",
        "clusters": "所属产业集群",
        "invention_patents": "有效发明专利数（件）",
        "tax_credit_rating": "纳税信用等级",
    }
    assert [s.label for s in schema.FIELDS if s.kind == "money"] == [
        "注册资本",
        "营业收入",
        "研发费用",
    ]


def test_the_registry_docs_show_the_indicators_of_facts_over_time() -> None:
    from chanye.registry.indicators import INDICATORS

    shown = _first_table(DOCS / "registry.md", "### Annual figures")
    expected = [[f"`{i.id}`", "、".join((i.label, *i.headers)), i.unit] for i in INDICATORS]
    assert shown == expected
