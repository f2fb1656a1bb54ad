"""What a policy may read about an enterprise: the fields, their CEL types and where they come from.

The registry's canonical fields and the derived ones of DESIGN.md, plus fields the platform does
not hold yet: a policy that reads one of those cannot be paid without application (it is 快申,
not 免申), and every enterprise is "needs data" (待补充) for it until the data arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CelType = Literal["int", "double", "string", "bool", "timestamp", "list"]


@dataclass(frozen=True)
class EnterpriseField:
    name: str
    type: CelType
    label: str
    held: bool = True  # False: not in the registry (an applicant must supply it)
    derived: bool = False


FIELDS: tuple[EnterpriseField, ...] = (
    EnterpriseField("uscc", "string", "统一社会信用代码"),
    EnterpriseField("name", "string", "企业名称"),
    EnterpriseField("district_code", "string", "所属区"),
    EnterpriseField("industry_code", "string", "行业代码"),
    EnterpriseField("business_scope", "string", "经营范围"),
    EnterpriseField("founded_on", "timestamp", "成立日期"),
    EnterpriseField("registered_capital", "double", "注册资本（元）"),
    EnterpriseField("revenue", "double", "营业收入（元）"),
    EnterpriseField("employees", "int", "从业人员"),
    EnterpriseField("rd_expense", "double", "研发费用（元）"),
    EnterpriseField("tags", "list", "企业标签"),
    EnterpriseField("status", "string", "登记状态"),
    EnterpriseField("age_years", "int", "成立年限（年）", derived=True),
    EnterpriseField("rd_ratio", "double", "研发投入强度", derived=True),
    EnterpriseField("clusters", "list", "所属产业集群", derived=True),
    # Not in the registry: asked of the enterprise in a short application (快申).
    EnterpriseField("invention_patents", "int", "有效发明专利数（件）", held=False),
    EnterpriseField("tax_credit_rating", "string", "纳税信用等级", held=False),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
REGISTRY_COLUMNS = (
    "uscc",
    "name",
    "district_code",
    "industry_code",
    "business_scope",
    "founded_on",
    "registered_capital",
    "revenue",
    "employees",
    "rd_expense",
    "tags",
    "status",
    "clusters",
    "change_id",
)


def known_fields_text() -> str:
    return ", ".join(f.name for f in FIELDS)
