"""Policy files: every kind of mistake gives its own message at file:line:column."""

from __future__ import annotations

import pytest

from chanye.policy.loader import PolicyFileError, load_policy_text

GOOD = """\
id: demo-rd-subsidy
title: 研发投入后补助
issuer: 广州市科学技术局
valid: {from: 2025-01-01, to: 2027-12-31}
parameters: {min_revenue: 20000000.0, rate: 0.1, cap: 5000000.0}
conditions:
  - id: revenue
    text: 上年度营业收入不低于2000万元（第三条）
    when: enterprise.revenue >= params.min_revenue
  - id: high-tech
    when: '"high_tech" in enterprise.tags && enterprise.status == "active"'
benefit:
  amount: min(enterprise.rd_expense * params.rate, params.cap)
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyFileError) as caught:
        load_policy_text(text, "p.yaml")
    return [str(p) for p in caught.value.problems]


def test_a_good_file_loads_with_its_clauses() -> None:
    policy = load_policy_text(GOOD, "p.yaml")
    assert [c.id for c in policy.conditions] == ["revenue", "high-tech"]
    assert policy.fields_read() == ["revenue", "tags", "status", "rd_expense"]
    assert policy.without_application and policy.mode_label == "免申即享"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("title: 研发投入后补助", "title: [unclosed"), "p.yaml:3:7: YAML 格式错误"),
        (
            (
                "    when: enterprise.revenue >= params.min_revenue",
                "    when: enterprise.revenue >=",
            ),
            "p.yaml:9:30: CEL 语法错误",
        ),
        (
            (
                "    when: enterprise.revenue >= params.min_revenue",
                "    when: enterprise.turnover >= params.min_revenue",
            ),
            "p.yaml:9:22: 未知的企业字段 enterprise.turnover（可用：uscc, name",
        ),
        (
            (
                "    when: enterprise.revenue >= params.min_revenue",
                "    when: enterprise.revenue >= params.minimum",
            ),
            "p.yaml:9:40: 未定义的参数 params.minimum（已定义：min_revenue、rate、cap）",
        ),
        (
            (
                "    when: enterprise.revenue >= params.min_revenue",
                "    when: enterprise.name >= 5",
            ),
            "p.yaml:9:11: 类型不匹配：不能比较 string 与 int",
        ),
        (
            (
                "    when: enterprise.revenue >= params.min_revenue",
                "    when: enterprise.employees * 0.5 > 1.0",
            ),
            "p.yaml:9:11: 类型不匹配：CEL 不做 int 与 double 的混合运算",
        ),
        (
            (
                "    when: enterprise.revenue >= params.min_revenue",
                '    when: enterprise.tags.exists(t, t == "x")',
            ),
            "p.yaml:9:27: 不支持的方法或宏 exists()",
        ),
        (
            ("    when: enterprise.revenue >= params.min_revenue", "    when: enterprise.revenue"),
            "p.yaml:9:11: 条件须为真/假（布尔）表达式",
        ),
        (("id: demo-rd-subsidy", "id: Demo RD"), "p.yaml:1:5: id 只能用小写字母"),
        (
            (
                "valid: {from: 2025-01-01, to: 2027-12-31}",
                "valid: {from: 2025-01-01, to: 2024-12-31}",
            ),
            "p.yaml:4:31: 有效期结束日早于开始日",
        ),
        (
            ("issuer: 广州市科学技术局\n", "issuer: 广州市科学技术局\nowner: x\n"),
            "p.yaml:4:1: 未知的键 owner",
        ),
    ],
)
def test_each_mistake_has_its_message(change: tuple[str, str], expected: str) -> None:
    found = problems(GOOD.replace(*change))
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("params.min_revenue", "params.nope").replace(
        "enterprise.tags", "enterprise.labels"
    )
    assert len(problems(text)) == 2


def test_a_quoted_date_is_a_date() -> None:
    """``yaml.safe_dump`` and many editors write dates in quotes."""
    quoted = GOOD.replace(
        "valid: {from: 2025-01-01, to: 2027-12-31}",
        "valid: {from: '2025-01-01', to: \"2027-12-31\"}",
    )
    policy = load_policy_text(quoted, "p.yaml")
    assert (policy.valid_from.isoformat(), policy.valid_to.isoformat()) == (
        "2025-01-01",
        "2027-12-31",
    )
    assert problems(quoted.replace("'2025-01-01'", "'2025年1月1日'"))[0].startswith(
        "p.yaml:4:15: valid.from 须为日期，如 2025-01-01"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("min_revenue: 20000000.0", "min_revenue: 2000万"),
            ["p.yaml:5:27: 参数 min_revenue 的取值 2000万：金额请写成以元为单位的数：20000000.0"],
        ),
        (
            ("rate: 0.1", "rate: 10%"),
            ["p.yaml:5:45: 参数 rate 的取值 10%：比例请写成小数：0.1"],
        ),
        (
            (
                """'"high_tech" in enterprise.tags && enterprise.status == "active"'""",
                '"high_tech" in enterprise.tags',
            ),
            [
                "p.yaml:11:23: YAML 格式错误",
                """整条须再用引号括起，如 when: '"high_tech" in enterprise.tags'""",
            ],
        ),
        (
            (
                """'"high_tech" in enterprise.tags && enterprise.status == "active"'""",
                "“high_tech” in enterprise.tags ＆＆ enterprise.status == “active”",
            ),
            [
                "p.yaml:11:11: 表达式中有全角符号 “”＆",
                '写成 "high_tech" in enterprise.tags && enterprise.status == "active"',
            ],
        ),
    ],
)
def test_what_people_type_is_answered_with_what_to_write(
    change: tuple[str, str], expected: list[str]
) -> None:
    found = problems(GOOD.replace(*change))
    assert len(found) == 1, found  # the one mistake, without follow-on messages
    assert found[0].startswith(expected[0]) and all(e in found[0] for e in expected[1:]), found


APPLIED = GOOD.replace(
    "conditions:\n",
    "application:\n"
    "  - id: contract_value\n"
    "    label: 技术合同成交额\n"
    "    kind: money\n"
    "    unit: 万元\n"
    "    help: 经登记的技术合同成交额\n"
    "    attachments: [技术合同登记证明]\n"
    "conditions:\n",
).replace("enterprise.revenue >= params.min_revenue", "application.contract_value >= 1000000.0")


def test_an_application_field_is_declared_with_its_label_unit_and_attachments() -> None:
    policy = load_policy_text(APPLIED, "p.yaml")
    (declared,) = policy.application
    assert (declared.label, declared.kind, declared.unit) == ("技术合同成交额", "money", "万元")
    assert declared.attachments == ("技术合同登记证明",)
    assert declared.input_factor() == 10_000.0
    assert policy.mode_label == "快申（需补充材料）" and not policy.without_application
    assert policy.fields_read()[0] == declared.field_name
    assert policy.label_of(declared.field_name) == "技术合同成交额（元）"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("application.contract_value >=", "application.contract_amount >="),
            "未声明的申报字段 application.contract_amount：请在政策文件的 application 中声明"
            "（已声明：contract_value）",
        ),
        (("    kind: money\n", "    kind: currency\n"), "申报字段 contract_value 的 kind 须为"),
        (("    unit: 万元\n", "    unit: 美元\n"), "申报字段 contract_value 的 unit 只用于金额"),
        (("    label: 技术合同成交额\n", ""), "申报字段 contract_value 须有中文名称 label"),
        (("    help: 经登记", "    hint: 经登记"), "申报字段中未知的键 hint"),
    ],
)
def test_each_application_mistake_is_named(change: tuple[str, str], expected: str) -> None:
    found = problems(APPLIED.replace(*change))
    assert any(expected in p for p in found), found
