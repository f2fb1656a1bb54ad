"""The field catalogue of the enterprise record: every field once, with everything said of it.

Per field: its name, how a snapshot stores it (a DuckDB type; none for a field computed when read
or not held), the type a policy reads it as (CEL; none for a field policies do not read), its
Chinese label and unit, whether the platform holds it, and, for the fields a file brings, the
headers an import accepts for it and how its values are checked. The import (``schema``), the
snapshots (``storage``) and the policy engine (``chanye.policy.fields``) all derive their views
from this one table; docs/registry.md shows it, and a test keeps the two the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CelType = Literal["int", "double", "string", "bool", "timestamp", "list"]
StorageType = Literal["VARCHAR", "DATE", "DOUBLE", "BIGINT", "VARCHAR[]"]
# How an imported value is checked and normalised (see ``validation``).
ImportKind = Literal[
    "uscc", "text", "district", "industry_code", "date", "money", "int", "tags", "status"
]


@dataclass(frozen=True)
class RecordField:
    name: str
    label: str  # Chinese, without the unit
    storage: StorageType | None  # None: not a column of a snapshot
    cel: CelType | None  # None: policies do not read it
    unit: str | None = None  # what a stored value counts (money is in yuan)
    held: bool = True  # False: not on the platform (an applicant must supply it)
    derived: bool = False  # computed by chanye (classified, or worked out when read), not imported
    imported: ImportKind | None = None  # how a file's value is checked; None: not in import files
    headers: tuple[str, ...] = ()  # header names an import accepts besides ``name``
    required: bool = False  # an import file must have the column

    @property
    def labelled(self) -> str:
        """The label with its unit, as pages and explanations show it: ``营业收入（元）``."""
        return f"{self.label}（{self.unit}）" if self.unit else self.label

    @property
    def classification(self) -> bool:
        """Written by classification (and by an analyst's override), not by an import."""
        return self.derived and self.storage is not None


CATALOGUE: tuple[RecordField, ...] = (
    RecordField(
        "uscc",
        "统一社会信用代码",
        "VARCHAR",
        "string",
        imported="uscc",
        headers=("统一社会信用代码", "社会信用代码", "信用代码"),
        required=True,
    ),
    RecordField(
        "name",
        "企业名称",
        "VARCHAR",
        "string",
        imported="text",
        headers=("企业名称", "名称", "单位名称", "company_name"),
        required=True,
    ),
    RecordField(
        "district_code",
        "所属区",
        "VARCHAR",
        "string",
        imported="district",
        headers=("所属区", "区划代码", "所在区", "行政区划", "行政区划代码", "district"),
    ),
    RecordField(
        "industry_code",
        "行业代码",
        "VARCHAR",
        "string",
        imported="industry_code",
        headers=("行业代码", "国民经济行业代码", "国民经济行业分类代码", "行业分类代码"),
    ),
    RecordField(
        "business_scope",
        "经营范围",
        "VARCHAR",
        "string",
        imported="text",
        headers=("经营范围", "scope"),
    ),
    RecordField(
        "founded_on",
        "成立日期",
        "DATE",
        "timestamp",
        imported="date",
        headers=("成立日期", "注册日期", "成立时间"),
    ),
    RecordField(
        "registered_capital",
        "注册资本",
        "DOUBLE",
        "double",
        unit="元",
        imported="money",
        headers=("注册资本",),
    ),
    RecordField(
        "revenue",
        "营业收入",
        "DOUBLE",
        "double",
        unit="元",
        imported="money",
        headers=("营业收入", "营收", "主营业务收入"),
    ),
    RecordField(
        "employees",
        "从业人员",
        "BIGINT",
        "int",
        imported="int",
        headers=("从业人员", "从业人数", "从业人员数", "员工人数"),
    ),
    RecordField(
        "rd_expense",
        "研发费用",
        "DOUBLE",
        "double",
        unit="元",
        imported="money",
        headers=("研发费用", "研发投入", "研究开发费用"),
    ),
    RecordField(
        "tags", "企业标签", "VARCHAR[]", "list", imported="tags", headers=("企业标签", "标签")
    ),
    RecordField(
        "status",
        "登记状态",
        "VARCHAR",
        "string",
        imported="status",
        headers=("登记状态", "经营状态", "企业状态"),
    ),
    RecordField("age_years", "成立年限", None, "int", unit="年", derived=True),
    RecordField("rd_ratio", "研发投入强度", None, "double", derived=True),
    # The other yearly indicators of facts over time: read as of the date, from the figures.
    RecordField("output_value", "工业总产值", None, "double", unit="元", derived=True),
    RecordField("value_added", "工业增加值", None, "double", unit="元", derived=True),
    RecordField("profit", "利润总额", None, "double", unit="元", derived=True),
    RecordField("tax_paid", "纳税总额", None, "double", unit="元", derived=True),
    RecordField("fixed_investment", "固定资产投资", None, "double", unit="元", derived=True),
    RecordField("exports", "出口额", None, "double", unit="元", derived=True),
    RecordField("industries", "所属产业", "VARCHAR[]", None, derived=True),
    RecordField("clusters", "所属产业集群", "VARCHAR[]", "list", derived=True),
    RecordField("chain_links", "所属产业链环节", "VARCHAR[]", None, derived=True),
    # Not on the platform: asked of the enterprise in a short application (快申).
    RecordField("invention_patents", "有效发明专利数", None, "int", unit="件", held=False),
    RecordField("tax_credit_rating", "纳税信用等级", None, "string", held=False),
)
FIELD_BY_NAME: dict[str, RecordField] = {f.name: f for f in CATALOGUE}

# The fields read as of a date from the yearly figures of facts over time (``registry.as_of``);
# the same ids as the indicators of ``registry.indicators``.
YEARLY_FIELDS: tuple[str, ...] = (
    "revenue",
    "output_value",
    "value_added",
    "profit",
    "tax_paid",
    "rd_expense",
    "employees",
    "fixed_investment",
    "exports",
)
