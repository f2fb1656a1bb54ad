"""``chanye policy ...``: policies as rules on the command line (see docs/cli.md)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chanye.beijing import today_in_beijing
from chanye.cli.startup import check_files, err, migrated_settings, out
from chanye.policy.demo import demo_policies
from chanye.policy.explain import OUTCOME_LABELS, Explanation, near_misses
from chanye.policy.fields import plain_value
from chanye.policy.loader import PolicyFileError, conflicts, load_policy_file
from chanye.policy.matching import MatchFileError, check_target, match_to_file
from chanye.policy.model import Policy
from chanye.policy.population import Population, load_population
from chanye.policy.simulate import parse_setting, simulate
from chanye.policy.vocabulary import unknown_words
from chanye.registry.context import RegistryContext
from chanye.store.database import session_scope
from chanye.system.versions import system_in_force
from chanye.units import format_yuan

policy_app = typer.Typer(
    help="Policies as rules (政策): check, match, explain, simulate.", no_args_is_help=True
)

AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="Match as of this date (YYYY-MM-DD); today when omitted."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _as_of(text: str | None) -> dt.date:
    if text is None:
        return today_in_beijing()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        err.print(f"--as-of 须为日期 YYYY-MM-DD / not a date: {text!r}", markup=False)
        raise typer.Exit(2) from None


def _policies(sources: list[str]) -> list[Policy]:
    """Policies from files, or by id among the demo policies (all of them when none is named)."""
    if not sources:
        return demo_policies()
    known: dict[str, Policy] | None = None  # the demo policies, read only when one is named
    found: list[Policy] = []
    problems: list[str] = []
    for source in sources:
        if not Path(source).is_file():
            known = known if known is not None else {p.id: p for p in demo_policies()}
            if source in known:
                found.append(known[source])
                continue
        try:
            found.append(load_policy_file(Path(source)))
        except PolicyFileError as exc:
            problems += [str(p) for p in exc.problems]
    problems += read_together(found)
    if problems:
        for line in problems:
            err.print(line, markup=False)
        raise typer.Exit(1)
    return found


def _population(as_of: dt.date) -> Population:
    return load_population(RegistryContext.from_settings(migrated_settings()), as_of)


@policy_app.command("check")
def policy_check(
    files: Annotated[list[Path], typer.Argument(help="Policy files (YAML).")],
) -> None:
    """Check policy files; every problem as file:line:column: message. Exit 1 when any."""
    check_files(files, load_policy_file, _policy_summary, read_together)


def read_together(policies: list[Policy]) -> list[str]:
    """What the files cannot hold together (``conflicts``), and the words that are not the
    system's (``unknown_words``: a tag, cluster or district no enterprise can have)."""
    with session_scope(migrated_settings().resolved_database_url) as session:
        system = system_in_force(session)
    return conflicts(policies) + [str(p) for p in unknown_words(policies, system)]


def _policy_summary(path: Path, policy: Policy) -> str:
    paid = f"，分 {len(policy.schedule)} 期拨付" if policy.schedule else ""
    return (
        f"{path}: {policy.id} {policy.title} — {len(policy.conditions)} 个条件，"
        f"{policy.mode_label}{paid} / ok"
    )


@policy_app.command("match")
def policy_match(
    policies: Annotated[
        list[str] | None,
        typer.Argument(help="Policy files or demo policy ids; all demo policies when omitted."),
    ] = None,
    out_path: Annotated[Path, typer.Option("--out", help="CSV or Parquet file to write.")] = Path(
        "matches.csv"
    ),
    as_of: AsOf = None,
    all_rows: Annotated[
        bool,
        typer.Option("--all", help="One row per policy and enterprise (not only eligible ones)."),
    ] = False,
) -> None:
    """Match policies over the registry: policy_id, uscc, eligible, amount, failed."""
    chosen = _policies(policies or [])
    try:
        check_target(out_path)
    except MatchFileError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    day = _as_of(as_of)
    _say_not_in_force(chosen, day)
    started = time.perf_counter()
    summary = match_to_file(_population(day), chosen, out_path, every_row=all_rows)
    out.print(
        f"{summary.policies} 项政策 × {summary.enterprises} 家企业（截至 {day}）："
        f"符合条件 {summary.eligible} 项，用时 {time.perf_counter() - started:.2f} s → {out_path}",
        markup=False,
    )


def _say_not_in_force(policies: list[Policy], day: dt.date) -> None:
    """On stderr, for each policy not in force on ``day``: why it matches nobody."""
    for policy in policies:
        note = policy.not_in_force(day)
        if note is not None:
            err.print(note, markup=False)


def _find(policies: list[str]) -> Policy:
    return _policies(policies)[0]


@policy_app.command("explain")
def policy_explain(
    policy: Annotated[str, typer.Argument(help="Policy file or demo policy id.")],
    uscc: Annotated[str, typer.Argument(help="The enterprise's USCC.")],
    as_of: AsOf = None,
    as_json: JsonOption = False,
) -> None:
    """Explain one decision: each clause, the values read, the amount's arithmetic."""
    from chanye.policy.instalment_plans import schedule_words
    from chanye.policy.workflow import explain_paid

    chosen = _find([policy])
    population = _population(_as_of(as_of))
    with session_scope(migrated_settings().resolved_database_url) as session:
        result = explain_paid(session, population, chosen, uscc)  # as pushes: with the ledger
    if result is None:
        err.print(f"企业库中没有 {uscc} / no such enterprise", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    if as_json:
        out.print_json(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        return
    out.print(
        f"{result.policy_title}（{result.policy_id}）— {result.name} {result.uscc}：{_verdict(result)}",
        markup=False,
        soft_wrap=True,
    )
    if not result.valid:
        out.print(
            f"  政策在 {result.as_of} 不在有效期内 / not in force on that date",
            markup=False,
            soft_wrap=True,
        )
    if result.founded_on:
        out.print(
            f"  该企业成立于 {result.founded_on}，截至 {result.as_of} 尚未成立 / not yet founded",
            markup=False,
            soft_wrap=True,
        )
    notes = (result.ledger or {}).get("notes")
    if notes:  # why the payout ledger leaves less, or nothing (一次性, 累计上限, 同类补贴)
        out.print(f"  拨付记录：{'；'.join(notes)}", markup=False, soft_wrap=True)
    for c in result.conditions:
        values = "，".join(f"{result.label(k)}={plain_value(k, v)}" for k, v in c.values.items())
        out.print(
            f"  [{OUTCOME_LABELS[c.outcome]}] {c.text}\n      {c.expression}    读取：{values}",
            markup=False,
            soft_wrap=True,
        )
    if result.arithmetic:
        out.print(f"  金额：{result.arithmetic}", markup=False, soft_wrap=True)
    if chosen.schedule:  # 分期拨付: the amount is not paid at once
        paid = schedule_words(chosen, result.amount if result.eligible else None)
        out.print(f"  分期拨付：{paid}", markup=False, soft_wrap=True)
    if result.source_change is not None:
        out.print(
            f"  数据来源：企业库第 {result.source_change} 号变更", markup=False, soft_wrap=True
        )


def _verdict(result: Explanation) -> str:
    if result.eligible:
        return "符合"
    if (result.ledger or {}).get("blocked"):  # every condition holds, but it was paid already
        return "不再享受"
    return "待补充数据" if result.needs_data else "不符合"


@policy_app.command("simulate")
def policy_simulate(
    policy: Annotated[str, typer.Argument(help="Policy file or demo policy id.")],
    settings_: Annotated[
        list[str], typer.Option("--set", help="NAME=VALUE: a parameter's new value (repeatable).")
    ],
    as_of: AsOf = None,
    as_json: JsonOption = False,
) -> None:
    """What if a parameter changed: eligible count and total before and after, who gains and who
    loses, by district and cluster."""
    chosen = _find([policy])
    try:
        changes = dict(parse_setting(text, chosen) for text in settings_)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    day = _as_of(as_of)
    _say_not_in_force([chosen], day)
    try:
        result = simulate(_population(day), chosen, changes)
    except PolicyFileError as exc:  # a changed tier table out of order
        for problem in exc.problems:
            err.print(problem.message, markup=False)
        raise typer.Exit(2) from None
    if as_json:
        out.print_json(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        return
    table = Table("", "符合条件（家）", "金额合计")
    table.add_row("调整前", str(result.before.eligible), format_yuan(result.before.total_amount))
    table.add_row("调整后", str(result.after.eligible), format_yuan(result.after.total_amount))
    out.print(table)
    out.print(f"新增受益 {result.gained} 家，不再符合 {result.lost} 家（{result.seconds:.2f} s）")


@policy_app.command("near")
def policy_near(
    policy: Annotated[str, typer.Argument(help="Policy file or demo policy id.")],
    limit: Annotated[int, typer.Option(help="How many to list.", min=1, max=10000)] = 20,
    as_of: AsOf = None,
    as_json: JsonOption = False,
) -> None:
    """Near misses: enterprises failing exactly one condition, nearest first."""
    chosen = _find([policy])
    day = _as_of(as_of)
    _say_not_in_force([chosen], day)
    misses = near_misses(_population(day), chosen, limit)
    if as_json:
        out.print_json(json.dumps([m.__dict__ for m in misses], ensure_ascii=False, default=str))
        return
    table = Table("统一社会信用代码", "企业名称", "未满足的条件", "差距")
    for m in misses:
        table.add_row(m.uscc, m.name, m.condition_text, _gap(m.values, m.shortfall))
    out.print(table)


@policy_app.command("payout")
def policy_payout(
    policies: Annotated[
        list[str] | None, typer.Argument(help="Policy files or demo ids (all demo policies).")
    ] = None,
    as_of: AsOf = None,
    as_json: JsonOption = False,
) -> None:
    """What would actually be paid: each policy's formula total, then after the exclusive
    groups (不重复享受), the cap groups and the payout ledger (一次性, 累计上限, 同类补贴)."""
    from chanye.policy.instalment_plans import shares_words
    from chanye.policy.payout import payouts

    chosen = [_find([p]) for p in policies] if policies else demo_policies()
    day = _as_of(as_of)
    _say_not_in_force(chosen, day)
    with session_scope(migrated_settings().resolved_database_url) as session:
        found = payouts(session, _population(day), chosen)
    if as_json:
        out.print_json(json.dumps([p.to_dict() for p in found], ensure_ascii=False))
        return
    table = Table(
        "政策",
        "符合（家）",
        "待补充（家）",
        "按公式合计",
        "实际应付（家）",
        "实际应付合计",
        "扣减原因",
    )
    for p in found:
        why = "、".join(
            f"{label} {count} 家"
            for label, count in (
                ("拨付记录", p.by_ledger),
                ("不重复享受", p.by_exclusive_group),
                ("累计上限", p.by_cap_group),
            )
            if count
        )
        table.add_row(
            p.title,
            str(p.eligible),
            str(p.needs_data),
            format_yuan(p.formula_total),
            str(p.payable),
            format_yuan(p.payable_total),
            why or "—",
        )
    out.print(table)
    for p in found:  # 分期拨付: how each scheduled policy's payable total falls due
        if p.schedule:
            out.print(f"{p.title}：{shares_words(p.schedule)}", markup=False, soft_wrap=True)
    total = sum(p.payable_total for p in found)
    out.print(f"截至 {day}，实际应付合计 {format_yuan(total)}", markup=False)


@policy_app.command("instalments")
def policy_instalments(
    as_of: AsOf = None,
    policy_id: Annotated[
        str | None, typer.Option("--policy", help="Only this policy's instalments (its id).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """分期拨付: the instalments due by the date and not yet paid, each later one's look-back
    read as of its due date (payable, 不予拨付 with the clause, or 待补充)."""
    from chanye.policy.instalment_plans import PAYABLE
    from chanye.policy.instalments import check_due
    from chanye.store.audit import Actor

    day = _as_of(as_of)
    today = today_in_beijing()
    settings = migrated_settings()
    context = RegistryContext.from_settings(settings)
    with session_scope(settings.resolved_database_url) as session:
        found = check_due(
            session,
            lambda due: load_population(context, due),
            day,
            Actor(name="cli", role="admin"),
            policy_id,
            write=day <= today,  # a later date is a preview: nothing is kept
        )
    if as_json:
        out.print_json(json.dumps([f.to_dict() for f in found], ensure_ascii=False))
        return
    table = Table("企业", "政策", "期次", "金额", "应付日期", "核查结果")
    for f in found:
        table.add_row(
            f"{f.name}（{f.uscc}）",
            f.title,
            f"第{f.number}期（共{f.count}期）",
            format_yuan(f.amount),
            f.due_on.isoformat(),
            f.result,
        )
    out.print(table)
    payable = [f for f in found if f.state == PAYABLE]
    note = "" if day <= today else "（预览，未保存核查结果 / preview only）"
    out.print(
        f"截至 {day}，到期未拨付 {len(found)} 期，可拨付 {len(payable)} 期，合计 "
        f"{format_yuan(sum(f.amount for f in payable))}{note}",
        markup=False,
    )


def _gap(values: dict[str, object], gap: float | None) -> str:
    """How far off, as the one field read is shown (万元, %), else as a number."""
    if gap is None:
        return ""
    return plain_value(next(iter(values)), gap) if len(values) == 1 else f"{gap:,.4g}"


payments_app = typer.Typer(help="The payout ledger (拨付记录): what was paid, and when.")
policy_app.add_typer(payments_app, name="payments")


@payments_app.command("import")
def payments_import(
    path: Annotated[
        Path, typer.Argument(help="CSV: 统一社会信用代码, 政策, 金额, 拨付日期[, 同类, 凭证号]")
    ],
) -> None:
    """Record payments made before the platform (a past winner of a one-off benefit is then
    not paid again). Every row is checked first: one bad row and nothing is written (exit 1)."""
    from chanye.policy.ledger import import_payments, read_payments
    from chanye.store.audit import Actor

    if not path.is_file():
        err.print(f"找不到文件：{path} / no such file", markup=False)
        raise typer.Exit(2)
    payments, problems = read_payments(path)
    if problems:
        for problem in problems:
            err.print(problem, markup=False, soft_wrap=True)
        err.print(f"有 {len(problems)} 处错误，未写入任何拨付记录 / nothing written", markup=False)
        raise typer.Exit(1)
    with session_scope(migrated_settings().resolved_database_url) as session:
        count = import_payments(session, payments, Actor(name="cli", role="admin"))
    total = format_yuan(sum(p.amount for p in payments))
    out.print(f"已写入 {count} 条拨付记录，合计 {total} / recorded {count} payments", markup=False)
