"""Roles of the portal and what each one is, in the words of the people who hold them.

Which role may do what is not here: it is one policy file read by casbin
(``chanye/web/access/policy.csv``). Here are only the names, labels and groupings the domain needs.
"""

from __future__ import annotations

ROLE_LABELS: dict[str, str] = {
    "admin": "系统管理员",
    "analyst": "产业办分析员",
    "chain_leader": "链长 / 牵头部门",
    "investment": "招商人员",
    "policy_office": "政策处",
    "member": "会员企业",
    "enterprise": "注册企业",
    "individual": "个人用户",
    "public": "访客",
}
STAFF_ROLES = frozenset({"admin", "analyst", "chain_leader", "investment", "policy_office"})
ENTERPRISE_ROLES = frozenset({"enterprise", "member"})
ANONYMOUS = "public"


def is_staff(role: str) -> bool:
    return role in STAFF_ROLES


def label(role: str) -> str:
    return ROLE_LABELS.get(role, role)
