"""Items, one to many (单个项目): the policy file's ``items``, what ``policy check`` refuses, and
how an enterprise's items decide it (each on its own; amounts that read an item add up)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from chanye.policy.explain import Explanation, evidence, expanded
from chanye.policy.loader import PolicyFileError, load_policy_text
from chanye.policy.model import Policy
from chanye.policy.workflow import supplied_record
from tests.conftest import run_cli

# 技术改造 in the shape of 穗府办规〔2024〕12号 第一条: each project with 500万 of new equipment or
# more earns 20% of it, at most 3000万 per project; the project must be in the investment stats.
POLICY = """\
id: test-projects
title: 测试技术改造项目奖励
issuer: 广州市人民政府办公厅
valid: {from: 2025-01-01, to: 2030-12-31}
parameters: {min_spend: 5000000.0, rate: 0.2, cap: 30000000.0}
items:
  label: 技术改造项目
  fields:
    - {id: project_name, label: 项目名称, kind: text}
    - {id: equipment_spend, label: 新设备购置额, kind: money, unit: 万元}
    - {id: in_stats, label: 已纳入工业投资统计, kind: yes_no}
conditions:
  - id: active
    text: 处于存续状态的企业（第一条）
    when: enterprise.status == "active"
  - id: in-stats
    text: 项目已纳入本市工业投资统计（第一条）
    when: item.in_stats
  - id: spend
    text: 项目新设备购置额达到500万元及以上（第一条）
    when: item.equipment_spend >= params.min_spend
benefit:
  amount: min(item.equipment_spend * params.rate, params.cap)
"""
AS_OF = dt.date(2026, 6, 30)
FIRM = {"uscc": "91440101MA59XXXX0X", "name": "广州示例制造有限公司", "status": "active"}


def _policy(text: str = POLICY) -> Policy:
    return load_policy_text(text, "projects.yaml")


def _problems(text: str) -> list[str]:
    with pytest.raises(PolicyFileError) as refused:
        _policy(text)
    return [str(p) for p in refused.value.problems]


def _decided(policy: Policy, *projects: tuple[str, float, bool]) -> Explanation:
    listed = [{"project_name": n, "equipment_spend": s, "in_stats": i} for n, s, i in projects]
    record = {**FIRM, **supplied_record(policy, {"items": listed})}
    kept = evidence(policy, [record], AS_OF)[0]
    return Explanation.of(expanded(policy, kept, FIRM["uscc"]))


def test_each_item_is_decided_on_its_own_with_its_own_cap() -> None:
    policy = _policy()
    assert policy.mode_label == "快申（需补充材料）"  # never 免申: the platform holds no projects
    x = _decided(
        policy,
        ("一号线", 8e6, True),  # 160万
        ("二号线", 2e8, True),  # 4000万, capped at 3000万 for this project
        ("三号线", 9e6, False),  # not in the statistics: nothing
    )
    assert x.eligible and x.amount == pytest.approx(3.16e7)
    assert [i["qualifies"] for i in x.items] == [True, True, False]
    assert x.items[2]["verdict"] == "不符合：项目已纳入本市工业投资统计（第一条）"
    assert x.items[1]["title"] == "技术改造项目 2（二号线）"
    assert x.arithmetic is not None and "2 个技术改造项目合计 3160万元" in x.arithmetic
    assert (
        "技术改造项目 2（二号线）：min(新设备购置额[2亿元] * 0.2, 3000万元) = 3000万元"
        in x.arithmetic
    )


def test_no_item_qualifying_explains_the_nearest_and_no_item_yet_is_needs_data() -> None:
    policy = _policy()
    x = _decided(policy, ("一号线", 3e6, True), ("二号线", 1e6, False))
    assert not x.eligible and x.amount is None
    failed = [c.id for c in x.conditions if c.outcome == "fails"]
    assert failed == ["spend"]  # the first project misses one clause, the second two
    kept = evidence(policy, [FIRM], AS_OF)[0]  # before it applies: every item value unknown
    waiting = Explanation.of(expanded(policy, kept, FIRM["uscc"]))
    assert waiting.needs_data and not waiting.eligible and waiting.items == []
    closed = _decided(policy, ("一号线", 8e6, True))
    assert closed.eligible
    shut = {**FIRM, "status": "closed", **supplied_record(policy, {"items": []})}
    assert not Explanation.of(expanded(policy, evidence(policy, [shut], AS_OF)[0], "X")).eligible


def test_an_amount_reading_no_item_is_paid_once() -> None:
    text = POLICY.replace(
        "amount: min(item.equipment_spend * params.rate, params.cap)", "amount: 500000.0"
    )
    x = _decided(_policy(text), ("一号线", 8e6, True), ("二号线", 9e6, True))
    assert x.eligible and x.amount == 500000.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("item.in_stats", "item.in_statistics"), "未声明的申报字段 item.in_statistics"),
        (
            ("item.in_stats", "item.in_statistics"),
            "已声明：project_name、equipment_spend、in_stats",
        ),
        (("  label: 技术改造项目\n", ""), "items 须有中文名称 label"),
        (
            ("  label: 技术改造项目\n", "  label: 技术改造项目\n  max: 0\n"),
            "items 的 max 须为 1 至 50",
        ),
        (
            ("  label: 技术改造项目\n", "  label: 技术改造项目\n  each: 1\n"),
            "items 中未知的键 each",
        ),
        (("kind: yes_no}", "kind: boolean}"), "申报字段 in_stats 的 kind 须为"),
    ],
)
def test_check_refuses_what_items_cannot_mean(change: tuple[str, str], message: str) -> None:
    assert any(message in p for p in _problems(POLICY.replace(*change)))


def test_items_no_clause_reads_are_refused() -> None:
    unread = (
        POLICY.replace("when: item.in_stats", "when: true")
        .replace("item.equipment_spend >= params.min_spend", "true")
        .replace("min(item.equipment_spend * params.rate, params.cap)", "1.0")
    )
    assert any("没有条件或金额读取 item.字段" in p for p in _problems(unread))


def test_policy_check_names_the_line_of_an_undeclared_item_field(tmp_path: Path) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text(POLICY.replace("item.in_stats", "item.in_statistics"), encoding="utf-8")
    result = run_cli("policy", "check", str(path), data_dir=tmp_path)
    assert result.returncode == 1
    assert f"{path}:18:16: 未声明的申报字段 item.in_statistics" in result.stderr
    path.write_text(POLICY, encoding="utf-8")
    fine = run_cli("policy", "check", str(path), data_dir=tmp_path)
    assert fine.returncode == 0 and "快申" in fine.stdout
